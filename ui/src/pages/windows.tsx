import { useState } from "preact/hooks";
import { api, call, type ApiError, type S } from "../api/client";
import {
  Badge,
  CheckField,
  ConfirmDialog,
  DataTable,
  Dialog,
  ErrorText,
  FormActions,
  Loaded,
  PageHead,
  Picker,
  RowActions,
  SelectField,
  TextField,
  splitErrors,
  thenReload,
  useEditGuard,
  useEditing,
  useLoad,
  when,
} from "../ui";

type Win = S["WindowOut"];
type Weekly = S["WeeklyRecurrence"];
const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

function zones(): string[] {
  const intl = Intl as unknown as { supportedValuesOf?: (k: string) => string[] };
  const all = intl.supportedValuesOf?.("timeZone") ?? [];
  return all.includes("UTC") ? all : ["UTC", ...all];
}

function schedule(w: Win): string {
  const r = w.recurrence as Weekly | null;
  if (r) return `Weekly on ${r.days.map((d) => DAYS[d]?.slice(0, 3)).join(", ")}, ${r.startTime}–${r.endTime} (${r.timezone})`;
  return `${when(w.startsAt)} – ${when(w.endsAt)}`;
}

export function WindowsPage() {
  const [load, reload] = useLoad(() => call(api().GET("/v1/maintenance-windows")), []);
  const [integrations] = useLoad(() => call(api().GET("/v1/integrations")), []);
  const { editing, setEditing, deleting, setDeleting, closeEditor, closeDelete, saved } = useEditing<Win>(reload);
  const guard = useEditGuard();
  const names = new Map(integrations.state === "ok" ? integrations.data.items.map((i) => [i.integrationId, i.name]) : []);
  const scope = (w: Win) =>
    [w.integrationId ? `integration ${names.get(w.integrationId) ?? w.integrationId}` : "", w.clientId ? "one client" : "", w.assetId ? "one asset" : ""]
      .filter(Boolean)
      .join(", ") || "Everything";
  return (
    <>
      <PageHead title="Maintenance windows" action="Add window" guard={guard} onAction={() => setEditing("new")} />
      <p class="muted">During a window, matching alerts are recorded as suppressed and make no tickets.</p>
      <Loaded load={load} what="maintenance windows">
        {(data) => (
          <DataTable
            caption="Maintenance windows"
            columns={["Name", "Scope", "Schedule", "Now", "Next start", "Next end", "Actions"]}
            items={data.items}
            empty="No maintenance windows."
            row={(w) => (
              <tr>
                <td>{w.name}</td>
                <td>{scope(w)}</td>
                <td>{schedule(w)}</td>
                <td>
                  {!w.isActive ? <Badge kind="info">Off</Badge> : w.activeNow ? <Badge kind="warn">Active now</Badge> : <Badge kind="ok">Not active</Badge>}
                </td>
                <td>{when(w.nextStartsAt)}</td>
                <td>{when(w.nextEndsAt)}</td>
                <RowActions what={`window ${w.name}`} guard={guard} onEdit={() => setEditing(w)} onDelete={() => setDeleting(w)} />
              </tr>
            )}
          />
        )}
      </Loaded>
      {editing ? (
        <WindowDialog
          window={editing === "new" ? null : editing}
          integrations={integrations.state === "ok" ? integrations.data.items : []}
          onClose={closeEditor}
          onSaved={saved}
        />
      ) : null}
      {deleting ? (
        <ConfirmDialog
          title={`Delete window “${deleting.name}”?`}
          message="Alerts it covers will make tickets again."
          confirm="Delete"
          onClose={closeDelete}
          onConfirm={() => thenReload(call(api().DELETE("/v1/maintenance-windows/{windowId}", { params: { path: { windowId: deleting.windowId } } })), reload)}
        />
      ) : null}
    </>
  );
}

function toLocalInput(iso: string | null | undefined): string {
  if (!iso) return "";
  const d = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function WindowDialog(p: { window: Win | null; integrations: S["IntegrationOut"][]; onClose: () => void; onSaved: () => void }) {
  const w = p.window;
  const r0 = (w?.recurrence ?? null) as Weekly | null;
  const [name, setName] = useState(w?.name ?? "");
  const [isActive, setIsActive] = useState(w?.isActive ?? true);
  const [integrationId, setIntegrationId] = useState(w?.integrationId ?? "");
  const [clientId, setClientId] = useState(w?.clientId ?? "");
  const [assetId, setAssetId] = useState(w?.assetId ?? "");
  const [kind, setKind] = useState<"once" | "weekly">(r0 ? "weekly" : "once");
  const [startsAt, setStartsAt] = useState(toLocalInput(w?.startsAt));
  const [endsAt, setEndsAt] = useState(toLocalInput(w?.endsAt));
  const [days, setDays] = useState<number[]>(r0?.days ?? []);
  const [startTime, setStartTime] = useState(r0?.startTime ?? "22:00");
  const [endTime, setEndTime] = useState(r0?.endTime ?? "02:00");
  const [tz, setTz] = useState(r0?.timezone ?? Intl.DateTimeFormat().resolvedOptions().timeZone ?? "UTC");
  const [error, setError] = useState<ApiError | null>(null);
  const paths = ["name", "isActive", "integrationId", "clientId", "assetId", "startsAt", "endsAt", "recurrence.days", "recurrence.startTime", "recurrence.endTime", "recurrence.timezone", "recurrence"];
  const { fields, rest } = splitErrors(error, paths);
  const submit = async (e: Event) => {
    e.preventDefault();
    const iso = (v: string) => (v ? new Date(v).toISOString() : undefined);
    const body: S["MaintenanceWindowIn"] = {
      name,
      isActive,
      integrationId: integrationId || undefined,
      clientId: clientId || undefined,
      assetId: assetId || undefined,
      ...(kind === "once"
        ? { startsAt: iso(startsAt), endsAt: iso(endsAt) }
        : { recurrence: { type: "weekly", days: [...days].sort(), startTime, endTime, timezone: tz } }),
    };
    const res = w
      ? await call(api().PUT("/v1/maintenance-windows/{windowId}", { params: { path: { windowId: w.windowId } }, body }))
      : await call(api().POST("/v1/maintenance-windows", { body }));
    if (res.ok) p.onSaved();
    else setError(res.error);
  };
  return (
    <Dialog title={w ? `Edit window “${w.name}”` : "New maintenance window"} onClose={p.onClose} wide>
      <form onSubmit={submit}>
        <ErrorText error={rest} prefix="Not saved" />
        <div class="grid2">
          <TextField label="Window name" value={name} onInput={setName} required error={fields.name} />
          <CheckField label="Active" checked={isActive} onChange={setIsActive} error={fields.isActive} />
        </div>
        <fieldset>
          <legend>Scope (empty: every alert of the tenant)</legend>
          <div class="grid3">
            <SelectField
              label="Integration"
              value={integrationId}
              onChange={setIntegrationId}
              none="— any integration —"
              options={p.integrations.map((i) => ({ value: i.integrationId, label: i.name }))}
              error={fields.integrationId}
            />
            <Picker
              kind="clients"
              label="Client"
              value={clientId}
              onChange={(v) => {
                setClientId(v);
                setAssetId("");
              }}
              none="— any client —"
              error={fields.clientId}
            />
            <Picker kind="assets" parent={clientId} needsParent="— choose a client for an asset —" label="Asset" value={assetId} onChange={setAssetId} none="— any asset —" error={fields.assetId} />
          </div>
        </fieldset>
        <fieldset>
          <legend>Schedule</legend>
          <div class="radios" role="radiogroup" aria-label="Schedule type">
            <label>
              <input type="radio" name="kind" checked={kind === "once"} onChange={() => setKind("once")} /> One-off
            </label>
            <label>
              <input type="radio" name="kind" checked={kind === "weekly"} onChange={() => setKind("weekly")} /> Weekly
            </label>
          </div>
          {fields.recurrence ? <p class="field-error">⚠ {fields.recurrence}</p> : null}
          {kind === "once" ? (
            <div class="grid2">
              <TextField label="Starts (your local time)" type="datetime-local" value={startsAt} onInput={setStartsAt} error={fields.startsAt} />
              <TextField label="Ends (your local time)" type="datetime-local" value={endsAt} onInput={setEndsAt} error={fields.endsAt} />
            </div>
          ) : (
            <>
              <fieldset class="inline">
                <legend>Days</legend>
                {DAYS.map((d, i) => (
                  <CheckField label={d} checked={days.includes(i)} onChange={(v) => setDays(v ? [...days, i] : days.filter((x) => x !== i))} />
                ))}
                {fields["recurrence.days"] ? <p class="field-error">⚠ {fields["recurrence.days"]}</p> : null}
              </fieldset>
              <div class="grid3">
                <TextField label="Start time" type="time" value={startTime} onInput={setStartTime} error={fields["recurrence.startTime"]} />
                <TextField label="End time" type="time" value={endTime} onInput={setEndTime} hint="Before the start: ends the next day." error={fields["recurrence.endTime"]} />
                <SelectField label="Time zone" value={tz} onChange={setTz} options={zones().map((z) => ({ value: z, label: z }))} error={fields["recurrence.timezone"]} />
              </div>
            </>
          )}
        </fieldset>
        <FormActions submit="Save window" onCancel={p.onClose} />
      </form>
    </Dialog>
  );
}
