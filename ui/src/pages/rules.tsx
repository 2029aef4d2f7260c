import { useEffect, useRef, useState } from "preact/hooks";
import { api, call, type ApiError, type S } from "../api/client";
import {
  Badge,
  CheckField,
  ConfirmDialog,
  Dialog,
  Empty,
  ErrorText,
  FormActions,
  Loaded,
  PageHead,
  Picker,
  TextField,
  lookupPage,
  splitErrors,
  thenReload,
  useEditGuard,
  useEditing,
  useLoad,
  type FieldErrors,
} from "../ui";

type Rule = S["RuleOut"];
type Conditions = S["RuleConditions"];
type Actions = S["RuleActions"];
const SEVERITIES = ["critical", "major", "moderate", "minor", "none"] as const;
const PLACEHOLDERS = ["{{device}}", "{{message}}", "{{severity}}", "{{organization}}"];

export function RulesSection({ integration }: { integration: S["IntegrationOut"] }) {
  const iid = integration.integrationId;
  const [load, reload] = useLoad(() => call(api().GET("/v1/integrations/{integrationId}/rules", { params: { path: { integrationId: iid } } })), [iid]);
  const [order, setOrder] = useState<Rule[] | null>(null);
  const [announce, setAnnounce] = useState("");
  const [error, setError] = useState<ApiError | null>(null);
  const { editing, setEditing, deleting, setDeleting, closeEditor, closeDelete, saved } = useEditing<Rule>(reload);
  const [dragging, setDragging] = useState<number | null>(null);
  const guard = useEditGuard();
  const editable = { ...guard, disabled: guard.disabled || !integration.isActive };
  // Quick moves and toggles are sent one after another, in click order (the server keeps the last
  // one sent, so they must not overtake each other on parallel connections), and only the answer to
  // the last one asked updates the page.
  const asked = useRef(0);
  const queue = useRef<Promise<unknown>>(Promise.resolve());
  const inTurn = <T,>(send: () => Promise<T>): Promise<T> => {
    const turn = queue.current.then(send);
    queue.current = turn.catch(() => undefined);
    return turn;
  };
  useEffect(() => {
    if (load.state === "ok") setOrder(load.data.items);
  }, [load]);
  // Before the effect above has run (after paint), the loaded list, not an empty one.
  const rules = order ?? (load.state === "ok" ? load.data.items : []);

  const move = async (from: number, to: number, focusSelector?: string) => {
    if (to < 0 || to >= rules.length || from === to) return;
    const next = [...rules];
    const [item] = next.splice(from, 1);
    if (!item) return;
    next.splice(to, 0, item);
    setOrder(next);
    setError(null); // a new action; a failure of one asked before it still shows when it arrives
    const mine = ++asked.current;
    const r = await inTurn(() =>
      call(
        api().PUT("/v1/integrations/{integrationId}/rules/order", {
          params: { path: { integrationId: iid } },
          body: { ruleIds: next.map((x) => x.ruleId) },
        }),
      ),
    );
    if (!r.ok) {
      // Even when more was asked since: the page must not keep an order the server refused.
      setError(r.error);
      reload();
      return;
    }
    if (mine !== asked.current) return; // a later move or toggle has the say
    setOrder(r.data.items);
    setAnnounce(`Moved “${item.name}” to position ${to + 1} of ${next.length}.`);
    if (focusSelector) setTimeout(() => (document.querySelector(focusSelector) as HTMLElement | null)?.focus(), 0);
  };
  const toggle = async (rule: Rule, active: boolean) => {
    const body = { name: rule.name, description: rule.description, isActive: active, conditions: rule.conditions, actions: rule.actions };
    setError(null);
    const mine = ++asked.current;
    const r = await inTurn(() =>
      call(
        api().PUT("/v1/integrations/{integrationId}/rules/{ruleId}", { params: { path: { integrationId: iid, ruleId: rule.ruleId } }, body: body as S["RuleIn"] }),
      ),
    );
    if (r.ok) {
      // Into the list as it is now (a move may have answered meanwhile), not as it was at the click.
      setOrder((now) => (now ?? rules).map((x) => (x.ruleId === rule.ruleId ? r.data : x)));
      if (mine !== asked.current) return;
      setAnnounce(`“${rule.name}” is now ${active ? "active" : "inactive"}.`);
    } else setError(r.error);
  };

  return (
    <section aria-labelledby="rules-h">
      <PageHead title="Alert rules" id="rules-h" action="Add rule" guard={editable} onAction={() => setEditing("new")} />
      <p class="muted">
        Rules are tried in this order; the first active rule whose conditions all match decides what happens. Reorder with the arrow
        buttons, by dragging a row, or with Alt+↑ / Alt+↓ on a row's handle.
      </p>
      <ErrorText error={error} />
      <p role="status" aria-live="polite" class="sr-only">
        {announce}
      </p>
      <Loaded load={load} what="rules">
        {() =>
          rules.length ? (
            <ol class="rules">
              {rules.map((rule, index) => (
                <li
                  key={rule.ruleId}
                  class={`rule${dragging === index ? " dragging" : ""}${rule.isActive ? "" : " inactive"}`}
                  draggable={!editable.disabled}
                  onDragStart={(e) => {
                    setDragging(index);
                    e.dataTransfer?.setData("text/plain", String(index));
                  }}
                  onDragOver={(e) => e.preventDefault()}
                  onDrop={(e) => {
                    e.preventDefault();
                    const from = Number(e.dataTransfer?.getData("text/plain") ?? dragging);
                    setDragging(null);
                    if (Number.isInteger(from)) void move(from, index);
                  }}
                  onDragEnd={() => setDragging(null)}
                >
                  <button
                    type="button"
                    class="handle"
                    data-rule-handle={rule.ruleId}
                    aria-label={`Reorder ${rule.name}, position ${index + 1} of ${rules.length}. Alt+Up or Alt+Down moves it.`}
                    {...editable}
                    onKeyDown={(e) => {
                      if (!e.altKey) return;
                      if (e.key === "ArrowUp") {
                        e.preventDefault();
                        void move(index, index - 1, `[data-rule-handle="${rule.ruleId}"]`);
                      } else if (e.key === "ArrowDown") {
                        e.preventDefault();
                        void move(index, index + 1, `[data-rule-handle="${rule.ruleId}"]`);
                      }
                    }}
                  >
                    <span aria-hidden="true">⠿</span>
                  </button>
                  <span class="pos" aria-hidden="true">
                    {index + 1}
                  </span>
                  <div class="rule-main">
                    <strong>{rule.name}</strong> {rule.isActive ? <Badge kind="ok">Active</Badge> : <Badge kind="info">Inactive</Badge>}
                    <div class="muted small">{describeRule(rule)}</div>
                  </div>
                  <div class="row-actions">
                    <CheckField label="Active" checked={rule.isActive} onChange={(v) => void toggle(rule, v)} disabled={editable.disabled} title={guard.title} />
                    <button type="button" aria-label={`Move ${rule.name} up`} {...editable} disabled={editable.disabled || index === 0} onClick={() => void move(index, index - 1)}>
                      ↑
                    </button>
                    <button
                      type="button"
                      aria-label={`Move ${rule.name} down`}
                      {...editable}
                      disabled={editable.disabled || index === rules.length - 1}
                      onClick={() => void move(index, index + 1)}
                    >
                      ↓
                    </button>
                    <button type="button" {...editable} onClick={() => setEditing(rule)} aria-label={`Edit ${rule.name}`}>
                      Edit
                    </button>
                    <button type="button" class="danger" {...editable} onClick={() => setDeleting(rule)} aria-label={`Delete ${rule.name}`}>
                      Delete
                    </button>
                  </div>
                </li>
              ))}
            </ol>
          ) : (
            <Empty>No rules yet: alerts are recorded but make no tickets. Add a rule to route them.</Empty>
          )
        }
      </Loaded>
      {editing ? (
        <RuleEditor
          integrationId={iid}
          rule={editing === "new" ? null : editing}
          onClose={closeEditor}
          onSaved={saved}
        />
      ) : null}
      {deleting ? (
        <ConfirmDialog
          title={`Delete rule “${deleting.name}”?`}
          message="Alerts it would have matched fall through to the next rule."
          confirm="Delete"
          onClose={closeDelete}
          onConfirm={() =>
            thenReload(call(api().DELETE("/v1/integrations/{integrationId}/rules/{ruleId}", { params: { path: { integrationId: iid, ruleId: deleting.ruleId } } })), reload)
          }
        />
      ) : null}
    </section>
  );
}

function describeRule(rule: Rule): string {
  const c = rule.conditions as Conditions;
  const a = rule.actions as Actions;
  const parts: string[] = [];
  if (c.severities?.length) parts.push(`severity ${c.severities.join("/")}`);
  if (c.keywords?.length) parts.push(`keywords ${c.keywords.join(", ")}`);
  if (c.messagePattern) parts.push(`message ~ /${c.messagePattern}/`);
  if (c.organizationIds?.length) parts.push(`${c.organizationIds.length} organization(s)`);
  for (const [k, label] of [
    ["activityTypes", "activity"],
    ["alertClasses", "class"],
    ["sourceTypes", "source"],
  ] as const) {
    const v = c[k];
    if (v?.length) parts.push(`${label} ${v.join("/")}`);
  }
  const when = parts.length ? `When ${parts.join(", ")}` : "Every alert";
  const then = a.createTicket === false ? "record only" : `create a ticket${a.autoResolveTicket ? ", close it on reset" : ""}`;
  return `${when} → ${then}`;
}

const list = (s: string): string[] =>
  s
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean);

const FIELD_PATHS = [
  "name",
  "description",
  "isActive",
  "conditions.severities",
  "conditions.activityTypes",
  "conditions.alertClasses",
  "conditions.sourceTypes",
  "conditions.organizationIds",
  "conditions.keywords",
  "conditions.messagePattern",
  "actions.createTicket",
  "actions.boardId",
  "actions.priorityOverride",
  "actions.assignToUserId",
  "actions.ticketTemplate.titleTemplate",
  "actions.ticketTemplate.descriptionTemplate",
  "actions.autoResolveTicket",
  "actions.autoResolveStatusId",
  "actions.resetAlertOnTicketClose",
  "actions.notifyUserIds",
];

function RuleEditor(p: { integrationId: string; rule: Rule | null; onClose: () => void; onSaved: () => void }) {
  const r = p.rule;
  const c0 = (r?.conditions ?? {}) as Conditions;
  const a0 = (r?.actions ?? {}) as Actions;
  const [name, setName] = useState(r?.name ?? "");
  const [description, setDescription] = useState(r?.description ?? "");
  const [isActive, setIsActive] = useState(r?.isActive ?? true);
  const [severities, setSeverities] = useState<string[]>(c0.severities ?? []);
  const [activityTypes, setActivityTypes] = useState((c0.activityTypes ?? []).join(", "));
  const [alertClasses, setAlertClasses] = useState((c0.alertClasses ?? []).join(", "));
  const [sourceTypes, setSourceTypes] = useState((c0.sourceTypes ?? []).join(", "));
  const [orgIds, setOrgIds] = useState<string[]>(c0.organizationIds ?? []);
  const [keywords, setKeywords] = useState((c0.keywords ?? []).join(", "));
  const [pattern, setPattern] = useState(c0.messagePattern ?? "");
  const [createTicket, setCreateTicket] = useState(a0.createTicket ?? true);
  const [boardId, setBoardId] = useState(a0.boardId ?? "");
  const [priority, setPriority] = useState(a0.priorityOverride ?? "");
  const [assignee, setAssignee] = useState(a0.assignToUserId ?? "");
  const [titleT, setTitleT] = useState(a0.ticketTemplate?.titleTemplate ?? "");
  const [descT, setDescT] = useState(a0.ticketTemplate?.descriptionTemplate ?? "");
  const [autoResolve, setAutoResolve] = useState(a0.autoResolveTicket ?? false);
  const [closeStatus, setCloseStatus] = useState(a0.autoResolveStatusId ?? "");
  const [resetOnClose, setResetOnClose] = useState(a0.resetAlertOnTicketClose ?? true);
  const [notify, setNotify] = useState<string[]>(a0.notifyUserIds ?? []);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);

  const [orgs] = useLoad(
    () => call(api().GET("/v1/integrations/{integrationId}/organization-mappings", { params: { path: { integrationId: p.integrationId } } })),
    [p.integrationId],
  );
  const [users] = useLoad(() => lookupPage("users", null, ""), []);
  const [boards] = useLoad(() => lookupPage("boards", null, ""), []);
  // Close statuses belong to a board: the rule's board, else the tenant's default board.
  const defaultBoard = boards.state === "ok" ? (boards.data.items.find((b) => b.detail === "default board")?.id ?? "") : "";
  const statusBoard = boardId || defaultBoard;

  const conditions: Conditions = {};
  if (severities.length) conditions.severities = severities as Conditions["severities"];
  if (list(activityTypes).length) conditions.activityTypes = list(activityTypes);
  if (list(alertClasses).length) conditions.alertClasses = list(alertClasses);
  if (list(sourceTypes).length) conditions.sourceTypes = list(sourceTypes);
  if (orgIds.length) conditions.organizationIds = orgIds;
  if (list(keywords).length) conditions.keywords = list(keywords);
  if (pattern) conditions.messagePattern = pattern;
  const conditionsKey = JSON.stringify(conditions);

  const preview = usePreview(p.integrationId, conditionsKey);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    const ticketTemplate = titleT || descT ? { titleTemplate: titleT || undefined, descriptionTemplate: descT || undefined } : undefined;
    const actions: Actions = {
      createTicket,
      boardId: boardId || undefined,
      priorityOverride: priority || undefined,
      assignToUserId: assignee || undefined,
      ticketTemplate,
      autoResolveTicket: autoResolve,
      autoResolveStatusId: autoResolve && closeStatus ? closeStatus : undefined,
      resetAlertOnTicketClose: resetOnClose,
      notifyUserIds: notify,
    };
    const body: S["RuleIn"] = { name, description: description || undefined, isActive, conditions, actions };
    const path = { integrationId: p.integrationId };
    const res = r
      ? await call(api().PUT("/v1/integrations/{integrationId}/rules/{ruleId}", { params: { path: { ...path, ruleId: r.ruleId } }, body }))
      : await call(api().POST("/v1/integrations/{integrationId}/rules", { params: { path }, body }));
    setBusy(false);
    if (res.ok) p.onSaved();
    else {
      setError(res.error);
      // Bring the first invalid field into view for keyboard and screen-reader users.
      setTimeout(() => (document.querySelector("dialog [aria-invalid=true]") as HTMLElement | null)?.focus(), 0);
    }
  };
  const { fields, rest } = splitErrors(error, FIELD_PATHS);
  const f = (k: string): string | undefined => (fields as FieldErrors)[k];

  return (
    <Dialog title={r ? `Edit rule “${r.name}”` : "New rule"} onClose={p.onClose} wide>
      <form onSubmit={submit} class="rule-editor">
        <ErrorText error={rest} prefix="Not saved" />
        <div class="grid2">
          <TextField label="Rule name" value={name} onInput={setName} required error={f("name")} />
          <CheckField label="Active" checked={isActive} onChange={setIsActive} error={f("isActive")} />
        </div>
        <TextField label="Description" value={description} onInput={setDescription} error={f("description")} />
        <div class="grid2">
          <fieldset>
            <legend>Match</legend>
            <fieldset class="inline" aria-describedby={f("conditions.severities") ? "sev-error" : undefined}>
              <legend>Severities (none ticked: any)</legend>
              {SEVERITIES.map((s) => (
                <CheckField
                  label={s}
                  checked={severities.includes(s)}
                  onChange={(v) => setSeverities(v ? [...severities, s] : severities.filter((x) => x !== s))}
                />
              ))}
              {f("conditions.severities") ? (
                <p id="sev-error" class="field-error">
                  ⚠ {f("conditions.severities")}
                </p>
              ) : null}
            </fieldset>
            <TextField label="Activity types (comma-separated)" value={activityTypes} onInput={setActivityTypes} placeholder="CONDITION" error={f("conditions.activityTypes")} />
            <TextField label="Alert classes (comma-separated)" value={alertClasses} onInput={setAlertClasses} error={f("conditions.alertClasses")} />
            <TextField label="Source types (comma-separated)" value={sourceTypes} onInput={setSourceTypes} error={f("conditions.sourceTypes")} />
            <fieldset class="inline">
              <legend>Organizations (none ticked: any)</legend>
              {orgs.state === "loading" ? <span class="muted small">Loading mapped organizations…</span> : null}
              {orgs.state === "error" ? <ErrorText error={orgs.error} prefix="Could not load organizations" /> : null}
              {orgs.state === "ok" && !orgs.data.items.length ? <span class="muted small">No organizations mapped yet.</span> : null}
              {orgs.state === "ok"
                ? orgs.data.items.map((m) => (
                    <CheckField
                      label={`${m.externalOrganizationName ?? m.externalOrganizationId} (${m.externalOrganizationId})`}
                      checked={orgIds.includes(m.externalOrganizationId)}
                      onChange={(v) => setOrgIds(v ? [...orgIds, m.externalOrganizationId] : orgIds.filter((x) => x !== m.externalOrganizationId))}
                    />
                  ))
                : null}
              {f("conditions.organizationIds") ? <p class="field-error">⚠ {f("conditions.organizationIds")}</p> : null}
            </fieldset>
            <TextField label="Keywords (comma-separated, any of them)" value={keywords} onInput={setKeywords} error={f("conditions.keywords")} />
            <TextField
              label="Message pattern (regular expression)"
              value={pattern}
              onInput={setPattern}
              placeholder="(?i)disk|volume"
              hint="RE2 syntax, searched anywhere in the message; (?i) ignores case."
              error={f("conditions.messagePattern")}
            />
            <div class="preview" role="status" aria-live="polite">
              {preview}
            </div>
          </fieldset>
          <fieldset>
            <legend>Actions</legend>
            <CheckField label="Create a ticket" checked={createTicket} onChange={setCreateTicket} error={f("actions.createTicket")} />
            <Picker kind="boards" label="Board" value={boardId} onChange={setBoardId} none="— the default board —" error={f("actions.boardId")} />
            <Picker kind="priorities" label="Priority override" value={priority} onChange={setPriority} none="— from the alert's severity —" error={f("actions.priorityOverride")} />
            <Picker kind="users" label="Assignee" value={assignee} onChange={setAssignee} none="— unassigned —" error={f("actions.assignToUserId")} />
            <TextField
              label="Ticket title template"
              value={titleT}
              onInput={setTitleT}
              placeholder="{{device}}: {{message}}"
              hint={<>Placeholders: {PLACEHOLDERS.map((x) => <code>{x} </code>)}</>}
              error={f("actions.ticketTemplate.titleTemplate")}
            />
            <TextField
              label="Ticket description template"
              value={descT}
              onInput={setDescT}
              multiline
              hint={<>Placeholders: {PLACEHOLDERS.map((x) => <code>{x} </code>)}</>}
              error={f("actions.ticketTemplate.descriptionTemplate")}
            />
            <CheckField label="Close the ticket when the alert resets (if untouched)" checked={autoResolve} onChange={setAutoResolve} error={f("actions.autoResolveTicket")} />
            {autoResolve ? (
              <Picker
                kind="closed-statuses"
                parent={statusBoard}
                needsParent="— loading the board —"
                label="Close status"
                value={closeStatus}
                onChange={setCloseStatus}
                none="— the board's first closed status —"
                error={f("actions.autoResolveStatusId")}
              />
            ) : null}
            <CheckField label="Reset the alert in the RMM when the ticket closes" checked={resetOnClose} onChange={setResetOnClose} error={f("actions.resetAlertOnTicketClose")} />
            <fieldset class="inline">
              <legend>Notify users</legend>
              {users.state === "loading" ? <span class="muted small">Loading users…</span> : null}
              {users.state === "error" ? <ErrorText error={users.error} prefix="Could not load users" /> : null}
              {users.state === "ok"
                ? users.data.items.map((u) => (
                    <CheckField label={u.name} checked={notify.includes(u.id)} onChange={(v) => setNotify(v ? [...notify, u.id] : notify.filter((x) => x !== u.id))} />
                  ))
                : null}
              {f("actions.notifyUserIds") ? <p class="field-error">⚠ {f("actions.notifyUserIds")}</p> : null}
            </fieldset>
          </fieldset>
        </div>
        <FormActions submit="Save rule" busy={busy} onCancel={p.onClose} />
      </form>
    </Dialog>
  );
}

/** "Would have matched N of the last 200 alerts", refreshed (debounced) as the conditions change. */
function usePreview(integrationId: string, conditionsKey: string) {
  const [state, setState] = useState<{ text: string; examples: S["PreviewExample"][]; error?: string }>({ text: "Preview: …", examples: [] });
  useEffect(() => {
    let live = true;
    const t = setTimeout(async () => {
      const res = await call(
        api().POST("/v1/integrations/{integrationId}/rules/preview", {
          params: { path: { integrationId } },
          body: { conditions: JSON.parse(conditionsKey) as Conditions },
        }),
      );
      if (!live) return;
      if (res.ok) {
        const d = res.data;
        setState({
          text: d.evaluated
            ? `Would have matched ${d.matched} of the last ${d.evaluated} alerts of this integration.`
            : "No alerts stored for this integration yet: nothing to preview.",
          examples: d.examples,
        });
      } else if (res.status === 403) {
        setState({ text: "Preview is for administrators only.", examples: [] });
      } else {
        setState({ text: "", examples: [], error: `Preview unavailable: ${res.error.errors.map((e) => e.message).join("; ")}` });
      }
    }, 400);
    return () => {
      live = false;
      clearTimeout(t);
    };
  }, [integrationId, conditionsKey]);
  return (
    <>
      {state.error ? <p class="muted">{state.error}</p> : <p>{state.text}</p>}
      {state.examples.length ? (
        <ul class="examples" aria-label="Examples of matching alerts">
          {state.examples.map((e) => (
            <li>
              <span class="sev">[{e.severity}]</span> {e.deviceName ?? "?"}: {e.message ?? "(no message)"}
            </li>
          ))}
        </ul>
      ) : null}
    </>
  );
}
