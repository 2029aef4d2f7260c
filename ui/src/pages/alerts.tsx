import { useState } from "preact/hooks";
import { api, call, type ApiError, type S } from "../api/client";
import { Badge, DataTable, Dialog, ErrorText, FormActions, Loaded, Picker, SelectField, TextField, splitErrors, useEditGuard, useLoad, when } from "../ui";
import { providerName } from "./integrations";

const STATUSES = ["active", "acknowledged", "resolved", "auto_resolved", "suppressed"] as const;
type Status = (typeof STATUSES)[number];

function statusBadge(s: string) {
  const kind = s === "active" ? "bad" : s === "suppressed" ? "warn" : s === "acknowledged" ? "info" : "ok";
  return <Badge kind={kind}>{s.replace("_", " ")}</Badge>;
}

export function AlertsPage() {
  const [status, setStatus] = useState("");
  const [device, setDevice] = useState("");
  const [integrationId, setIntegrationId] = useState("");
  const [applied, setApplied] = useState({ status: "", device: "", integrationId: "" });
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const cursor = cursors[cursors.length - 1] ?? null;
  const [integrations] = useLoad(() => call(api().GET("/v1/integrations")), []);
  const [load] = useLoad(
    () =>
      call(
        api().GET("/v1/alerts", {
          params: {
            query: {
              status: (applied.status || undefined) as Status | undefined,
              externalDeviceId: applied.device || undefined,
              integrationId: applied.integrationId || undefined,
              limit: 25,
              cursor: cursor ?? undefined,
            },
          },
        }),
      ),
    [applied, cursor],
  );
  const names = new Map(integrations.state === "ok" ? integrations.data.items.map((i) => [i.integrationId, i.name]) : []);
  return (
    <>
      <h1>Alerts</h1>
      <form
        class="filters"
        aria-label="Filter alerts"
        onSubmit={(e) => {
          e.preventDefault();
          setApplied({ status, device: device.trim(), integrationId });
          setCursors([null]);
        }}
      >
        <SelectField label="Status" value={status} onChange={setStatus} none="Any status" options={STATUSES.map((s) => ({ value: s, label: s.replace("_", " ") }))} />
        <TextField label="Device id" value={device} onInput={setDevice} placeholder="e.g. 101" />
        <SelectField
          label="Integration"
          value={integrationId}
          onChange={setIntegrationId}
          none="Any integration"
          options={integrations.state === "ok" ? integrations.data.items.map((i) => ({ value: i.integrationId, label: i.name })) : []}
        />
        <div class="actions">
          <button type="submit" class="primary">
            Apply filters
          </button>
        </div>
      </form>
      <Loaded load={load} what="alerts">
        {(page) => (
          <>
            <DataTable
              caption="Alerts, newest first"
              columns={["Triggered", "Severity", "Device", "Message", "Integration", "Status", "Ticket"]}
              items={page.items}
              empty="No alerts match these filters."
              row={(a) => (
                <tr>
                  <td>
                    <a href={`#/alerts/${a.alertId}`}>{when(a.triggeredAt)}</a>
                  </td>
                  <td>{a.severity}</td>
                  <td>{a.deviceName ?? a.externalDeviceId ?? "—"}</td>
                  <td class="msg">{a.message ?? "—"}</td>
                  <td>{names.get(a.integrationId) ?? providerName(a.provider)}</td>
                  <td>{statusBadge(a.status)}</td>
                  <td>{a.ticketId ? "Yes" : "No"}</td>
                </tr>
              )}
            />
            <nav class="pager" aria-label="Pages">
              <button type="button" disabled={cursors.length < 2} onClick={() => setCursors(cursors.slice(0, -1))}>
                Previous page
              </button>
              <span>Page {cursors.length}</span>
              <button type="button" disabled={!page.nextCursor} onClick={() => setCursors([...cursors, page.nextCursor ?? null])}>
                Next page
              </button>
            </nav>
          </>
        )}
      </Loaded>
    </>
  );
}

type Trace = {
  kind?: string;
  outcome?: string;
  reason?: string;
  evaluatedAt?: string;
  dedupKey?: string;
  client?: { clientId?: string | null; source?: string | null };
  window?: { windowId?: string; name?: string } | null;
  windows?: { at?: string; checked?: { windowId: string; name: string; matched: boolean; reason: string }[]; notListed?: number };
  rules?: { ruleId: string; name: string; matched: boolean; reasons: string[]; error?: string | null }[];
  group?: { createdTicketId?: string; joinedTicketId?: string; primaryAlertId?: string } | null;
  warnings?: string[];
  reset?: { at?: string; quiet?: boolean; ticket?: { closed?: boolean; note?: string | null; reason?: string } };
  manualTicket?: { by?: string; at?: string; warnings?: string[] };
};

/** The decision trace as sentences an admin can read. */
export function traceLines(t: Trace): string[] {
  const out: string[] = [];
  if (t.evaluatedAt) out.push(`Evaluated at ${when(t.evaluatedAt)}.`);
  const checked = t.windows?.checked ?? [];
  if (t.windows?.at) out.push(`Maintenance windows checked at the alert's time, ${when(t.windows.at)}.`);
  for (const w of checked) if (!w.matched) out.push(`Window “${w.name}” did not match — ${w.reason}.`);
  if (t.windows?.notListed) out.push(`${t.windows.notListed} more window(s) not listed.`);
  if (t.window) out.push(`Maintenance window “${t.window.name ?? t.window.windowId}” covered it: suppressed, no ticket.`);
  else out.push(t.windows && !checked.length ? "No maintenance windows to check. No maintenance window covered it." : "No maintenance window covered it.");
  if (t.rules?.length) {
    for (const r of t.rules) {
      out.push(`Rule “${r.name}”: ${r.matched ? "matched" : "did not match"} — ${r.reasons.join("; ")}${r.error ? ` (error: ${r.error})` : ""}.`);
    }
  } else if (!t.window) out.push("No rule was evaluated.");
  if (t.client) out.push(`Client chosen from: ${t.client.source ?? "nothing"}${t.client.clientId ? "" : " (no client found)"}.`);
  if (t.group?.createdTicketId) out.push("Opened a new ticket for this device and condition.");
  if (t.group?.joinedTicketId) out.push("Joined the open ticket of the same device and condition (occurrence note added).");
  if (t.outcome) out.push(`Outcome: ${t.outcome.replace(/_/g, " ")}${t.reason ? ` (${t.reason.replace(/_/g, " ")})` : ""}.`);
  for (const w of t.warnings ?? []) out.push(`Warning: ${w}.`);
  if (t.reset) {
    const tk = t.reset.ticket;
    out.push(
      `Reset at ${when(t.reset.at)}${t.reset.quiet ? " (quietly: it was suppressed)" : ""}` +
        (tk ? (tk.closed ? ": the ticket was closed." : `: the ticket stayed open${tk.reason ? ` (${tk.reason})` : tk.note ? ` (${tk.note})` : ""}.`) : "."),
    );
  }
  if (t.manualTicket) out.push(`Ticket created by hand by ${t.manualTicket.by ?? "a user"} at ${when(t.manualTicket.at)}.`);
  return out;
}

export function AlertDetailPage({ id }: { id: string }) {
  const [load, reload] = useLoad(() => call(api().GET("/v1/alerts/{alertId}", { params: { path: { alertId: id } } })), [id]);
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState("");
  const guard = useEditGuard();
  return (
    <Loaded load={load} what="the alert">
      {(a) => (
        <>
          <p class="crumbs">
            <a href="#/alerts">Alerts</a> / {a.deviceName ?? a.externalDeviceId ?? a.alertId}
          </p>
          <div class="page-head">
            <h1>{a.message ?? "Alert"}</h1>
            {statusBadge(a.status)}
          </div>
          <div class="grid2">
            <section class="card" aria-labelledby="facts-h">
              <h2 id="facts-h">Alert</h2>
              <dl>
                <dt>Device</dt>
                <dd>
                  {a.deviceName ?? "—"} ({a.externalDeviceId ?? "no id"})
                </dd>
                <dt>Organization</dt>
                <dd>
                  {a.externalOrganizationName ?? "—"} ({a.externalOrganizationId ?? "no id"})
                </dd>
                <dt>Severity</dt>
                <dd>{a.severity}</dd>
                <dt>Provider</dt>
                <dd>{providerName(a.provider)}</dd>
                <dt>Triggered</dt>
                <dd>{when(a.triggeredAt)}</dd>
                <dt>Occurrences</dt>
                <dd>{a.occurrenceCount}</dd>
                <dt>Resolved</dt>
                <dd>{when(a.resolvedAt)}</dd>
                <dt>Ticket</dt>
                <dd>
                  {a.ticket ? (
                    <>
                      {a.ticket.ticketNumber} — {a.ticket.title} ({a.ticket.isClosed ? "closed" : (a.ticket.statusName ?? "open")})
                    </>
                  ) : (
                    "None"
                  )}
                </dd>
              </dl>
              {!a.ticket ? (
                <button type="button" class="primary" {...guard} onClick={() => setCreating(true)}>
                  Create ticket
                </button>
              ) : null}
              <p role="status">{created}</p>
            </section>
            <section class="card" aria-labelledby="trace-h">
              <h2 id="trace-h">Why it did what it did</h2>
              <ol class="trace">
                {traceLines(a.decisionTrace as Trace).map((line) => (
                  <li>{line}</li>
                ))}
              </ol>
            </section>
          </div>
          {creating ? (
            <CreateTicketDialog
              alertId={a.alertId}
              onClose={() => setCreating(false)}
              onCreated={(t) => {
                setCreating(false);
                setCreated(`Ticket ${t.ticketNumber} created.`);
                reload();
              }}
            />
          ) : null}
        </>
      )}
    </Loaded>
  );
}

function CreateTicketDialog(p: { alertId: string; onClose: () => void; onCreated: (t: S["TicketCreated"]) => void }) {
  const [boardId, setBoardId] = useState("");
  const [priorityId, setPriorityId] = useState("");
  const [userId, setUserId] = useState("");
  const [title, setTitle] = useState("");
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const { fields, rest } = splitErrors(error, ["boardId", "priorityId", "assignToUserId", "titleTemplate"]);
  return (
    <Dialog title="Create a ticket for this alert" onClose={p.onClose}>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          const r = await call(
            api().POST("/v1/alerts/{alertId}/ticket", {
              params: { path: { alertId: p.alertId } },
              body: {
                boardId: boardId || undefined,
                priorityId: priorityId || undefined,
                assignToUserId: userId || undefined,
                titleTemplate: title || undefined,
              },
            }),
          );
          setBusy(false);
          if (r.ok) p.onCreated(r.data);
          else setError(r.error);
        }}
      >
        <ErrorText error={rest} prefix="No ticket" />
        <Picker kind="boards" label="Board" value={boardId} onChange={setBoardId} none="— the default board —" error={fields.boardId} />
        <Picker kind="priorities" label="Priority" value={priorityId} onChange={setPriorityId} none="— from the severity —" error={fields.priorityId} />
        <Picker kind="users" label="Assignee" value={userId} onChange={setUserId} none="— unassigned —" error={fields.assignToUserId} />
        <TextField label="Title template" value={title} onInput={setTitle} placeholder="{{device}}: {{message}}" error={fields.titleTemplate} />
        <FormActions submit="Create ticket" busy={busy} onCancel={p.onClose} />
      </form>
    </Dialog>
  );
}
