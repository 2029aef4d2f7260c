// Small shared pieces: loading/error/empty states, tables with row actions, page heads, labelled
// fields with inline errors, native modal dialogs (focus stays inside, Escape closes) and their form
// buttons, copy buttons, lookup pickers, read-only state.
import { createContext, type ComponentChildren } from "preact";
import { useContext, useEffect, useId, useRef, useState } from "preact/hooks";
import { api, call, type ApiError, type S } from "./api/client";

// -- the session: may this user edit? ------------------------------------------------------------

export type Session = { me: S["Me"] | null; canEdit: boolean; reason: string };
export const SessionContext = createContext<Session>({ me: null, canEdit: false, reason: "" });
export const READ_ONLY_REASON_ID = "read-only-reason";

export function useSession(): Session {
  return useContext(SessionContext);
}

export type EditGuard = { disabled: boolean; title?: string; "aria-describedby"?: string };

/** Props that disable an edit control for a read-only user and point at the reason. */
export function useEditGuard(): EditGuard {
  const s = useSession();
  return s.canEdit ? { disabled: false } : { disabled: true, title: s.reason, "aria-describedby": READ_ONLY_REASON_ID };
}

// -- async loading -------------------------------------------------------------------------------

export type Load<T> =
  | { state: "loading" }
  | { state: "error"; error: ApiError }
  | { state: "ok"; data: T };

const LOADING = { state: "loading" } as const;

export function useLoad<T>(fn: () => Promise<{ ok: true; data: T } | { ok: false; error: ApiError }>, deps: unknown[]) {
  const [value, setValue] = useState<{ key: string; load: Load<T> } | null>(null);
  const [tick, setTick] = useState(0);
  const key = JSON.stringify(deps);
  useEffect(() => {
    let live = true;
    fn().then((r) => {
      if (live) setValue({ key, load: r.ok ? { state: "ok", data: r.data } : { state: "error", error: r.error } });
    });
    return () => {
      live = false;
    };
  }, [key, tick]);
  // An answer for other inputs is never shown, not even in the frame before the effect runs (effects
  // run after paint); a reload of the same inputs keeps the page (and its open dialogs) meanwhile.
  const load: Load<T> = value !== null && value.key === key ? value.load : LOADING;
  return [load, () => setTick((n) => n + 1)] as const;
}

export function Loading({ what }: { what: string }) {
  return (
    <p role="status" class="muted">
      Loading {what}…
    </p>
  );
}

export function ErrorText({ error, prefix }: { error: ApiError | null | undefined; prefix?: string }) {
  if (!error) return null;
  const general = error.errors.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message)).join("; ");
  return (
    <p role="alert" class="error">
      <span aria-hidden="true">⚠ </span>
      {prefix ? `${prefix}: ` : "Error: "}
      {general}
    </p>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="empty">{children}</p>;
}

/** A list of items as a table (caption for screen readers, one header a column, `row` makes each
 * `<tr>`), or `empty` when there are none. */
export function DataTable<T>(p: { caption: string; columns: string[]; items: T[]; row: (item: T) => ComponentChildren; empty: ComponentChildren }) {
  if (!p.items.length) return <Empty>{p.empty}</Empty>;
  return (
    <table>
      <caption class="sr-only">{p.caption}</caption>
      <thead>
        <tr>
          {p.columns.map((c) => (
            <th scope="col">{c}</th>
          ))}
        </tr>
      </thead>
      <tbody>{p.items.map((item) => p.row(item))}</tbody>
    </table>
  );
}

/** A table row's Edit and Delete buttons; `what` names the row for screen readers ("Edit window Nightly"). */
export function RowActions({ what, guard, onEdit, onDelete }: { what: string; guard: EditGuard; onEdit: () => void; onDelete: () => void }) {
  return (
    <td class="row-actions">
      <button type="button" {...guard} onClick={onEdit} aria-label={`Edit ${what}`}>
        Edit
      </button>
      <button type="button" class="danger" {...guard} onClick={onDelete} aria-label={`Delete ${what}`}>
        Delete
      </button>
    </td>
  );
}

/** A page's (h1) or section's (h2 with `id`) heading with its primary action button beside it. */
export function PageHead(p: { title: string; id?: string; action: string; guard: EditGuard; onAction: () => void }) {
  return (
    <div class="page-head">
      {p.id ? <h2 id={p.id}>{p.title}</h2> : <h1>{p.title}</h1>}
      <button type="button" class="primary" {...p.guard} onClick={p.onAction}>
        {p.action}
      </button>
    </div>
  );
}

/** Renders loading/error for a Load, or its data. */
export function Loaded<T>({ load, what, children }: { load: Load<T>; what: string; children: (data: T) => ComponentChildren }) {
  if (load.state === "loading") return <Loading what={what} />;
  if (load.state === "error") return <ErrorText error={load.error} prefix={`Could not load ${what}`} />;
  return <>{children(load.data)}</>;
}

// -- field errors from the API's `path` ------------------------------------------------------------

export type FieldErrors = Record<string, string>;

/** Split an API error into errors by field path and the rest (shown at the top of the form). */
export function splitErrors(error: ApiError | null, known: string[]): { fields: FieldErrors; rest: ApiError | null } {
  if (!error) return { fields: {}, rest: null };
  const fields: FieldErrors = {};
  const rest: ApiError["errors"] = [];
  for (const e of error.errors) {
    // "conditions.severities[0]" belongs to the "conditions.severities" field
    const path = known.find((k) => e.path === k || e.path.startsWith(k + "[") || e.path.startsWith(k + "."));
    if (path) fields[path] = fields[path] ? `${fields[path]}; ${e.message}` : e.message;
    else rest.push(e);
  }
  return { fields, rest: rest.length ? { status: error.status, errors: rest } : null };
}

// -- labelled fields -------------------------------------------------------------------------------

type FieldProps = { label: string; error?: string; hint?: ComponentChildren; id?: string };

function describedBy(id: string, error?: string, hint?: unknown, readOnly?: boolean): string | undefined {
  const ids = [error ? `${id}-error` : "", hint ? `${id}-hint` : "", readOnly ? READ_ONLY_REASON_ID : ""].filter(Boolean).join(" ");
  return ids || undefined;
}

/** A field disabled because the user may not edit points at the read-only reason. */
function useReadOnly(disabled?: boolean): boolean {
  return !!disabled && !useSession().canEdit;
}

function FieldNotes({ id, error, hint }: { id: string; error?: string; hint?: ComponentChildren }) {
  return (
    <>
      {hint ? (
        <p id={`${id}-hint`} class="hint">
          {hint}
        </p>
      ) : null}
      {error ? (
        <p id={`${id}-error`} class="field-error">
          <span aria-hidden="true">⚠ </span>
          {error}
        </p>
      ) : null}
    </>
  );
}

export function TextField(
  p: FieldProps & {
    value: string;
    onInput: (v: string) => void;
    type?: string;
    multiline?: boolean;
    disabled?: boolean;
    required?: boolean;
    placeholder?: string;
    min?: number;
    max?: number;
    name?: string;
  },
) {
  const auto = useId();
  const id = p.id ?? auto;
  const readOnly = useReadOnly(p.disabled);
  const common = {
    id,
    name: p.name,
    value: p.value,
    disabled: p.disabled,
    required: p.required,
    placeholder: p.placeholder,
    "aria-invalid": p.error ? true : undefined,
    "aria-describedby": describedBy(id, p.error, p.hint, readOnly),
    onInput: (e: Event) => p.onInput((e.currentTarget as HTMLInputElement).value),
  };
  return (
    <div class={`field${p.error ? " has-error" : ""}`}>
      <label for={id}>{p.label}</label>
      {p.multiline ? <textarea rows={3} {...common} /> : <input type={p.type ?? "text"} min={p.min} max={p.max} {...common} />}
      <FieldNotes id={id} error={p.error} hint={p.hint} />
    </div>
  );
}

export function CheckField(p: FieldProps & { checked: boolean; onChange: (v: boolean) => void; disabled?: boolean; title?: string }) {
  const auto = useId();
  const id = p.id ?? auto;
  const readOnly = useReadOnly(p.disabled);
  return (
    <div class={`field check${p.error ? " has-error" : ""}`}>
      <input
        type="checkbox"
        id={id}
        checked={p.checked}
        disabled={p.disabled}
        title={p.title}
        aria-describedby={describedBy(id, p.error, p.hint, readOnly)}
        onChange={(e) => p.onChange((e.currentTarget as HTMLInputElement).checked)}
      />
      <label for={id}>{p.label}</label>
      <FieldNotes id={id} error={p.error} hint={p.hint} />
    </div>
  );
}

export function SelectField(
  p: FieldProps & {
    value: string;
    onChange: (v: string) => void;
    options: { value: string; label: string }[];
    disabled?: boolean;
    none?: string;
  },
) {
  const auto = useId();
  const id = p.id ?? auto;
  const readOnly = useReadOnly(p.disabled);
  return (
    <div class={`field${p.error ? " has-error" : ""}`}>
      <label for={id}>{p.label}</label>
      <select
        id={id}
        value={p.value}
        disabled={p.disabled}
        aria-invalid={p.error ? true : undefined}
        aria-describedby={describedBy(id, p.error, p.hint, readOnly)}
        onChange={(e) => p.onChange((e.currentTarget as HTMLSelectElement).value)}
      >
        {p.none !== undefined ? <option value="">{p.none}</option> : null}
        {p.options.map((o) => (
          <option value={o.value}>{o.label}</option>
        ))}
      </select>
      <FieldNotes id={id} error={p.error} hint={p.hint} />
    </div>
  );
}

// -- lookup pickers --------------------------------------------------------------------------------

export type LookupKind = "boards" | "closed-statuses" | "priorities" | "users" | "clients" | "contacts" | "assets";

export function lookupPage(kind: LookupKind, parent: string | null, search: string) {
  const query = { search: search || undefined, limit: 100 };
  const c = api();
  switch (kind) {
    case "boards":
      return call(c.GET("/v1/lookups/boards", { params: { query } }));
    case "priorities":
      return call(c.GET("/v1/lookups/priorities", { params: { query } }));
    case "users":
      return call(c.GET("/v1/lookups/users", { params: { query } }));
    case "clients":
      return call(c.GET("/v1/lookups/clients", { params: { query } }));
    case "closed-statuses":
      return call(c.GET("/v1/lookups/boards/{boardId}/closed-statuses", { params: { path: { boardId: parent ?? "" }, query } }));
    case "contacts":
      return call(c.GET("/v1/lookups/clients/{clientId}/contacts", { params: { path: { clientId: parent ?? "" }, query } }));
    case "assets":
      return call(c.GET("/v1/lookups/clients/{clientId}/assets", { params: { path: { clientId: parent ?? "" }, query } }));
  }
}

/** A searchable picker over a lookup route: a search box narrowing a labelled select. */
export function Picker(
  p: FieldProps & {
    kind: LookupKind;
    parent?: string | null;
    value: string;
    onChange: (v: string) => void;
    disabled?: boolean;
    none?: string;
    needsParent?: string;
  },
) {
  const auto = useId();
  const id = p.id ?? auto;
  const [search, setSearch] = useState("");
  const [debounced, setDebounced] = useState("");
  useEffect(() => {
    const t = setTimeout(() => setDebounced(search), 250);
    return () => clearTimeout(t);
  }, [search]);
  const parentMissing = p.needsParent !== undefined && !p.parent;
  const [load] = useLoad<S["LookupPage"]>(
    async () => (parentMissing ? { ok: true, data: { items: [], nextOffset: null } } : lookupPage(p.kind, p.parent ?? null, debounced)),
    [p.kind, p.parent, debounced, parentMissing],
  );
  const items = load.state === "ok" ? load.data.items : [];
  const hasValue = !p.value || items.some((i) => i.id === p.value);
  return (
    <div class={`field picker${p.error ? " has-error" : ""}`}>
      <label for={id}>{p.label}</label>
      <div class="picker-row">
        <select
          id={id}
          value={p.value}
          disabled={p.disabled || parentMissing}
          aria-invalid={p.error ? true : undefined}
          aria-describedby={describedBy(id, p.error, p.hint)}
          onChange={(e) => p.onChange((e.currentTarget as HTMLSelectElement).value)}
        >
          <option value="">{parentMissing ? p.needsParent : (p.none ?? "— none —")}</option>
          {!hasValue ? <option value={p.value}>(current: {p.value.slice(0, 8)}…)</option> : null}
          {items.map((i) => (
            <option value={i.id}>{i.detail ? `${i.name} (${i.detail})` : i.name}</option>
          ))}
        </select>
        <input
          type="search"
          aria-label={`Search ${p.label.toLowerCase()}`}
          placeholder="Search…"
          value={search}
          disabled={p.disabled || parentMissing}
          onInput={(e) => setSearch((e.currentTarget as HTMLInputElement).value)}
        />
      </div>
      {load.state === "loading" ? <span class="muted small" role="status">Loading…</span> : null}
      {load.state === "error" ? <ErrorText error={load.error} prefix={`Could not load ${p.label.toLowerCase()}`} /> : null}
      {load.state === "ok" && !items.length && !parentMissing ? <span class="muted small">Nothing found.</span> : null}
      <FieldNotes id={id} error={p.error} hint={p.hint} />
    </div>
  );
}

// -- dialogs ---------------------------------------------------------------------------------------

const FOCUSABLE = "a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex='-1'])";

/** Tab from the last control goes to the first and Shift+Tab from the first to the last, so focus
 * never leaves an open dialog (a modal <dialog> alone would let it reach the browser's own UI). */
function trapTab(e: KeyboardEvent, dialog: HTMLDialogElement | null): void {
  if (e.key !== "Tab" || !dialog) return;
  const items = Array.from(dialog.querySelectorAll<HTMLElement>(FOCUSABLE)).filter((el) => el.offsetParent !== null);
  const first = items[0];
  const last = items[items.length - 1];
  if (!first || !last) return;
  const active = document.activeElement;
  if (e.shiftKey && (active === first || !dialog.contains(active))) {
    e.preventDefault();
    last.focus();
  } else if (!e.shiftKey && (active === last || !dialog.contains(active))) {
    e.preventDefault();
    first.focus();
  }
}

/** A native modal <dialog>: the page behind is inert, focus is kept inside, and Escape closes it. */
export function Dialog({ title, onClose, children, wide }: { title: string; onClose: () => void; children: ComponentChildren; wide?: boolean }) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const d = ref.current;
    const opener = document.activeElement as HTMLElement | null;
    if (d && !d.open) d.showModal();
    return () => {
      // Leave the modal state first (the page is inert until then), then give focus back.
      if (d?.open) d.close();
      setTimeout(() => opener?.focus?.(), 0);
    };
  }, []);
  return (
    <dialog
      ref={ref}
      aria-labelledby={titleId}
      class={wide ? "wide" : ""}
      onCancel={(e) => {
        e.preventDefault();
        onClose();
      }}
      onKeyDown={(e) => trapTab(e, ref.current)}
    >
      <div class="dialog-head">
        <h2 id={titleId}>{title}</h2>
        <button type="button" class="icon" aria-label="Close dialog" onClick={onClose}>
          ✕
        </button>
      </div>
      {children}
    </dialog>
  );
}

/** A dialog form's buttons: its primary submit button and Cancel. */
export function FormActions({ submit, busy, onCancel }: { submit: string; busy?: boolean; onCancel: () => void }) {
  return (
    <div class="actions">
      <button type="submit" class="primary" disabled={busy}>
        {submit}
      </button>
      <button type="button" onClick={onCancel}>
        Cancel
      </button>
    </div>
  );
}

/** A list's editor and delete-confirmation state: the item being edited ("new" for a new one) or
 * deleted, closing either, and what a save does (close the editor, reload the list). */
export function useEditing<T>(reload: () => void) {
  const [editing, setEditing] = useState<T | "new" | null>(null);
  const [deleting, setDeleting] = useState<T | null>(null);
  return {
    editing,
    setEditing,
    deleting,
    setDeleting,
    closeEditor: () => setEditing(null),
    closeDelete: () => setDeleting(null),
    saved: () => {
      setEditing(null);
      reload();
    },
  };
}

/** A ConfirmDialog's onConfirm for one API call: the call's error, or null once `reload()` ran. */
export async function thenReload(request: Promise<{ ok: true } | { ok: false; error: ApiError }>, reload: () => void): Promise<ApiError | null> {
  const r = await request;
  if (!r.ok) return r.error;
  reload();
  return null;
}

export function ConfirmDialog(p: { title: string; message: ComponentChildren; confirm: string; onConfirm: () => Promise<ApiError | null>; onClose: () => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  return (
    <Dialog title={p.title} onClose={p.onClose}>
      <p>{p.message}</p>
      <ErrorText error={error} />
      <div class="actions">
        <button
          type="button"
          class="danger"
          disabled={busy}
          onClick={async () => {
            setBusy(true);
            const e = await p.onConfirm();
            setBusy(false);
            if (e) setError(e);
            else p.onClose();
          }}
        >
          {p.confirm}
        </button>
        <button type="button" onClick={p.onClose}>
          Cancel
        </button>
      </div>
    </Dialog>
  );
}

// -- copy ------------------------------------------------------------------------------------------

async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // Clipboard API unavailable (http origin, permissions): fall back to a selection copy.
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    const ok = document.execCommand("copy");
    area.remove();
    return ok;
  }
}

export function CopyField({ label, value, multiline }: { label: string; value: string; multiline?: boolean }) {
  const id = useId();
  const [copied, setCopied] = useState<"" | "ok" | "failed">("");
  return (
    <div class="field copy">
      <label for={id}>{label}</label>
      <div class="copy-row">
        {multiline ? <textarea id={id} readOnly rows={6} value={value} /> : <input id={id} readOnly value={value} />}
        <button
          type="button"
          onClick={async () => setCopied((await copyText(value)) ? "ok" : "failed")}
          aria-label={`Copy ${label}`}
        >
          Copy
        </button>
      </div>
      <span role="status" class="small">
        {copied === "ok" ? `✓ ${label} copied` : copied === "failed" ? "Copy failed: select the text and copy it" : ""}
      </span>
    </div>
  );
}

// -- formatting ------------------------------------------------------------------------------------

export function when(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export function Badge({ kind, children }: { kind: "ok" | "warn" | "bad" | "info"; children: ComponentChildren }) {
  const icon = { ok: "●", warn: "▲", bad: "✕", info: "○" }[kind];
  return (
    <span class={`badge ${kind}`}>
      <span aria-hidden="true">{icon} </span>
      {children}
    </span>
  );
}
