import { useState } from "preact/hooks";
import { api, call, type ApiError, type S } from "../api/client";
import {
  Badge,
  CheckField,
  ConfirmDialog,
  CopyField,
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
import { RulesSection } from "./rules";

// Fields other engineers are adding to the integration (poller issue); absent on older servers.
type WebhookRegistration = { status: string; error?: string | null; at?: string | null };
type Integration = S["IntegrationOut"] & { lastPollError?: string | null; webhookRegistration?: WebhookRegistration | null };
type Secret = {
  integrationId: string;
  webhookUrl: string;
  webhookSecret: string;
  channelUrl?: string | null;
  alertTemplate?: S["AlertTemplate"] | null;
};

const PROVIDERS = [
  { value: "ninjaone", label: "NinjaOne" },
  { value: "tacticalrmm", label: "TacticalRMM" },
];

export function providerName(p: string): string {
  return PROVIDERS.find((x) => x.value === p)?.label ?? p;
}

export function IntegrationsPage() {
  const [load, reload] = useLoad(() => call(api().GET("/v1/integrations")), []);
  const [connecting, setConnecting] = useState(false);
  const [secret, setSecret] = useState<Secret | null>(null);
  const guard = useEditGuard();
  return (
    <>
      <PageHead title="Integrations" action="Connect integration" guard={guard} onAction={() => setConnecting(true)} />
      <Loaded load={load} what="integrations">
        {(data) => (
          <DataTable
            caption="RMM integrations"
            columns={["Name", "Provider", "Status", "Polling", "Last polled"]}
            items={data.items}
            empty="No integrations yet. Connect NinjaOne or TacticalRMM to start receiving alerts."
            row={(i) => (
              <tr>
                <td>
                  <a href={`#/integrations/${i.integrationId}`}>{i.name}</a>
                </td>
                <td>{providerName(i.provider)}</td>
                <td>{i.isActive ? <Badge kind="ok">Connected</Badge> : <Badge kind="bad">Disconnected</Badge>}</td>
                <td>{i.polling.enabled ? `Every ${i.polling.intervalMinutes} min` : "Off"}</td>
                <td>{when(i.polling.lastPolledAt)}</td>
              </tr>
            )}
          />
        )}
      </Loaded>
      {connecting ? (
        <ConnectDialog
          onClose={() => setConnecting(false)}
          onConnected={(s) => {
            setConnecting(false);
            setSecret(s);
            reload();
          }}
        />
      ) : null}
      {secret ? <SecretDialog secret={secret} title="Integration connected" onClose={() => setSecret(null)} /> : null}
    </>
  );
}

type Creds = { clientId: string; clientSecret: string; apiKey: string };
const NO_CREDS: Creds = { clientId: "", clientSecret: "", apiKey: "" };

/** What was typed, as the API's `credentials` (undefined when nothing was). */
function credentialsOf(provider: string, c: Creds) {
  if (provider === "ninjaone") return c.clientId || c.clientSecret ? { clientId: c.clientId, clientSecret: c.clientSecret } : undefined;
  return c.apiKey ? { apiKey: c.apiKey } : undefined;
}

/** The provider's credential inputs: NinjaOne's API client, TacticalRMM's API key. */
function CredentialFields(p: { provider: string; value: Creds; onInput: (c: Creds) => void; error?: string; disabled?: boolean }) {
  const set = (k: keyof Creds) => (v: string) => p.onInput({ ...p.value, [k]: v });
  return p.provider === "ninjaone" ? (
    <>
      <TextField label="API client ID" value={p.value.clientId} onInput={set("clientId")} disabled={p.disabled} error={p.error} />
      <TextField label="API client secret" type="password" value={p.value.clientSecret} onInput={set("clientSecret")} disabled={p.disabled} />
    </>
  ) : (
    <TextField label="API key" type="password" value={p.value.apiKey} onInput={set("apiKey")} disabled={p.disabled} error={p.error} />
  );
}

function ConnectDialog({ onClose, onConnected }: { onClose: () => void; onConnected: (s: Secret) => void }) {
  const [provider, setProvider] = useState<"ninjaone" | "tacticalrmm">("ninjaone");
  const [name, setName] = useState("");
  const [instanceUrl, setInstanceUrl] = useState("");
  const [creds, setCreds] = useState<Creds>(NO_CREDS);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const { fields, rest } = splitErrors(error, ["provider", "name", "instanceUrl", "credentials"]);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    const credentials = credentialsOf(provider, creds);
    const r = await call(
      api().POST("/v1/integrations", {
        body: { provider, name, instanceUrl: instanceUrl || undefined, credentials },
      }),
    );
    setBusy(false);
    if (r.ok) onConnected(r.data as Secret);
    else setError(r.error);
  };
  return (
    <Dialog title="Connect an integration" onClose={onClose}>
      <form onSubmit={submit}>
        <ErrorText error={rest} prefix="Not connected" />
        <SelectField label="Provider" value={provider} options={PROVIDERS} onChange={(v) => setProvider(v as typeof provider)} error={fields.provider} />
        <TextField label="Name" value={name} onInput={setName} required error={fields.name} />
        <TextField
          label="Instance URL"
          value={instanceUrl}
          onInput={setInstanceUrl}
          type="url"
          placeholder={provider === "ninjaone" ? "https://eu.ninjarmm.com" : "https://api.example-rmm.com"}
          hint="The RMM's API base URL (needed for polling and resetting alerts)."
          error={fields.instanceUrl}
        />
        <CredentialFields provider={provider} value={creds} onInput={setCreds} error={fields["credentials"]} />
        <FormActions submit="Connect" busy={busy} onCancel={onClose} />
      </form>
    </Dialog>
  );
}

export function SecretDialog({ secret, title, onClose }: { secret: Secret; title: string; onClose: () => void }) {
  const t = secret.alertTemplate;
  return (
    <Dialog title={title} onClose={onClose} wide>
      <p class="notice" role="note">
        <strong>Copy the secret now.</strong> It is shown only this once; only a hash is stored.
      </p>
      <CopyField label="Webhook URL" value={secret.webhookUrl} />
      <CopyField label="Webhook secret (X-Webhook-Secret header)" value={secret.webhookSecret} />
      {secret.channelUrl ? <CopyField label="Notification channel URL (NinjaOne UI)" value={secret.channelUrl} /> : null}
      {t ? (
        <fieldset>
          <legend>TacticalRMM alert template: two URL actions (POST)</legend>
          <CopyField label="Action URL" value={t.url} />
          <CopyField label="Action headers" value={JSON.stringify(t.headers, null, 2)} multiline />
          <CopyField label="Failure action body" value={t.triggerBody} multiline />
          <CopyField label="Resolved action body" value={t.resolveBody} multiline />
        </fieldset>
      ) : null}
      <div class="actions">
        <button type="button" class="primary" onClick={onClose}>
          I have copied it
        </button>
      </div>
    </Dialog>
  );
}

// -- one integration ----------------------------------------------------------------------------

const TABS = [
  ["settings", "Settings"],
  ["organizations", "Organization mappings"],
  ["devices", "Device mappings"],
  ["rules", "Alert rules"],
] as const;

export function IntegrationPage({ id, tab }: { id: string; tab: string }) {
  const [load, reload] = useLoad(
    () => call<Integration>(api().GET("/v1/integrations/{integrationId}", { params: { path: { integrationId: id } } })),
    [id],
  );
  return (
    <Loaded load={load} what="the integration">
      {(i) => (
        <>
          <p class="crumbs">
            <a href="#/integrations">Integrations</a> / {i.name}
          </p>
          <div class="page-head">
            <h1>
              {i.name} <span class="muted">({providerName(i.provider)})</span>
            </h1>
            {i.isActive ? <Badge kind="ok">Connected</Badge> : <Badge kind="bad">Disconnected</Badge>}
          </div>
          {!i.isActive ? (
            <p class="banner-inline" role="note">
              <span aria-hidden="true">✕ </span>
              This integration is disconnected: its webhooks are refused and its settings can no longer be changed.
            </p>
          ) : null}
          <nav class="tabs" aria-label="Integration sections">
            {TABS.map(([key, label]) => (
              <a href={`#/integrations/${id}/${key}`} aria-current={tab === key ? "page" : undefined}>
                {label}
              </a>
            ))}
          </nav>
          {tab === "organizations" ? (
            <OrgMappings integration={i} />
          ) : tab === "devices" ? (
            <DeviceMappings integration={i} />
          ) : tab === "rules" ? (
            <RulesSection integration={i} />
          ) : (
            <Settings integration={i} reload={reload} />
          )}
        </>
      )}
    </Loaded>
  );
}

function Settings({ integration: i, reload }: { integration: Integration; reload: () => void }) {
  const guard = useEditGuard();
  const editable = { ...guard, disabled: guard.disabled || !i.isActive };
  const [name, setName] = useState(i.name);
  const [instanceUrl, setInstanceUrl] = useState(i.instanceUrl ?? "");
  const [creds, setCreds] = useState<Creds>(NO_CREDS);
  const [saveError, setSaveError] = useState<ApiError | null>(null);
  const [saved, setSaved] = useState("");
  const [enabled, setEnabled] = useState(i.polling.enabled);
  const [interval, setIntervalMin] = useState(String(i.polling.intervalMinutes));
  const [pollError, setPollError] = useState<ApiError | null>(null);
  const [pollSaved, setPollSaved] = useState("");
  const [test, setTest] = useState<string>("");
  const [testError, setTestError] = useState<ApiError | null>(null);
  const [regMsg, setRegMsg] = useState("");
  const [rotating, setRotating] = useState(false);
  const [secret, setSecret] = useState<Secret | null>(null);
  const [disconnecting, setDisconnecting] = useState(false);
  const nameErrors = splitErrors(saveError, ["name", "instanceUrl", "credentials"]);
  const pollErrors = splitErrors(pollError, ["enabled", "intervalMinutes"]);

  const save = async (e: Event) => {
    e.preventDefault();
    setSaved("");
    // Credentials only when typed: empty fields keep the stored ones.
    const credentials = credentialsOf(i.provider, creds);
    const r = await call(
      api().PATCH("/v1/integrations/{integrationId}", {
        params: { path: { integrationId: i.integrationId } },
        body: { name, instanceUrl: instanceUrl || undefined, ...(credentials ? { credentials } : {}) },
      }),
    );
    if (r.ok) {
      setSaveError(null);
      setCreds(NO_CREDS);
      setSaved("Saved.");
      reload();
    } else setSaveError(r.error);
  };
  const savePolling = async (e: Event) => {
    e.preventDefault();
    setPollSaved("");
    const minutes = Number(interval);
    const r = await call(
      api().PUT("/v1/integrations/{integrationId}/polling", {
        params: { path: { integrationId: i.integrationId } },
        body: { enabled, intervalMinutes: Number.isFinite(minutes) ? minutes : 0 },
      }),
    );
    if (r.ok) {
      setPollError(null);
      setPollSaved("Polling settings saved.");
    } else setPollError(r.error);
  };
  const testConnection = async () => {
    setTest("Testing…");
    setTestError(null);
    const r = await call(
      api().POST("/v1/integrations/{integrationId}/test-connection", { params: { path: { integrationId: i.integrationId } } }),
    );
    if (r.ok) setTest(r.data.ok ? "✓ Connection works." : `✕ Connection failed: ${r.data.error ?? "unknown error"}`);
    else {
      setTest("");
      setTestError(r.error);
    }
  };
  const retryRegistration = async () => {
    setRegMsg("Retrying…");
    const r = await call(
      api().POST("/v1/integrations/{integrationId}/webhook-registration", { params: { path: { integrationId: i.integrationId } } }),
    );
    if (r.ok) {
      setRegMsg("Registration retried.");
      reload();
    } else setRegMsg(`Retry failed: ${r.error.errors.map((e) => e.message).join("; ")}`);
  };
  const reg = i.webhookRegistration;

  return (
    <div class="grid2">
      <section aria-labelledby="status-h" class="card">
        <h2 id="status-h">Status</h2>
        <CopyField label="Webhook URL" value={i.webhookUrl} />
        <dl>
          <dt>Connected</dt>
          <dd>{when(i.connectedAt)}</dd>
          {i.disconnectedAt ? (
            <>
              <dt>Disconnected</dt>
              <dd>{when(i.disconnectedAt)}</dd>
            </>
          ) : null}
          <dt>Credentials</dt>
          <dd>{i.hasCredentials ? "Stored" : "None (polling and alert reset need them)"}</dd>
          <dt>Last polled</dt>
          <dd>{when(i.polling.lastPolledAt)}</dd>
          <dt>Last poll error</dt>
          <dd>
            {i.lastPollError === undefined ? (
              <span class="muted">Not reported by this server yet.</span>
            ) : i.lastPollError ? (
              <Badge kind="bad">{i.lastPollError}</Badge>
            ) : (
              <Badge kind="ok">None</Badge>
            )}
          </dd>
          <dt>Webhook registration</dt>
          <dd>
            {reg === undefined ? (
              <span class="muted">Not reported by this server yet.</span>
            ) : reg === null ? (
              <span class="muted">Not registered (no credentials, or not NinjaOne).</span>
            ) : (
              <>
                <Badge kind={reg.status === "registered" ? "ok" : reg.status === "failed" ? "bad" : "info"}>{reg.status}</Badge>
                {reg.error ? <span> {reg.error}</span> : null} {reg.at ? <span class="muted">({when(reg.at)})</span> : null}
              </>
            )}
          </dd>
          {i.previousSecretExpiresAt ? (
            <>
              <dt>Previous secret valid until</dt>
              <dd>{when(i.previousSecretExpiresAt)}</dd>
            </>
          ) : null}
        </dl>
        <div class="actions">
          <button type="button" {...editable} onClick={testConnection}>
            Test connection
          </button>
          {reg !== undefined ? (
            <button type="button" {...editable} onClick={retryRegistration}>
              Retry webhook registration
            </button>
          ) : null}
          <button type="button" {...editable} onClick={() => setRotating(true)}>
            Rotate webhook secret
          </button>
          <button type="button" class="danger" {...editable} onClick={() => setDisconnecting(true)}>
            Disconnect
          </button>
        </div>
        <p role="status" class="small">
          {test} {regMsg}
        </p>
        <ErrorText error={testError} prefix="Test connection" />
      </section>

      <div>
        <section aria-labelledby="general-h" class="card">
          <h2 id="general-h">General</h2>
          <form onSubmit={save}>
            <ErrorText error={nameErrors.rest} prefix="Not saved" />
            <TextField label="Name" value={name} onInput={setName} disabled={editable.disabled} error={nameErrors.fields.name} />
            <TextField
              label="Instance URL"
              type="url"
              value={instanceUrl}
              onInput={setInstanceUrl}
              disabled={editable.disabled}
              error={nameErrors.fields.instanceUrl}
            />
            <fieldset>
              <legend>New credentials</legend>
              <p class="small muted">
                {i.hasCredentials ? "Stored credentials are never shown. " : "None stored. "}
                Leave empty to keep them; a changed instance URL needs them entered again.
              </p>
              <CredentialFields
                provider={i.provider}
                value={creds}
                onInput={setCreds}
                error={nameErrors.fields.credentials}
                disabled={editable.disabled}
              />
            </fieldset>
            <div class="actions">
              <button type="submit" class="primary" {...editable}>
                Save
              </button>
              <span role="status" class="small">
                {saved}
              </span>
            </div>
          </form>
        </section>
        <section aria-labelledby="polling-h" class="card">
          <h2 id="polling-h">Alert polling</h2>
          <form onSubmit={savePolling} noValidate>
            <ErrorText error={pollErrors.rest} prefix="Not saved" />
            <CheckField
              label="Poll the RMM for missed alerts and resets"
              checked={enabled}
              onChange={setEnabled}
              disabled={editable.disabled}
              error={pollErrors.fields.enabled}
            />
            <TextField
              label="Interval (minutes, 5–60)"
              type="number"
              min={5}
              max={60}
              value={interval}
              onInput={setIntervalMin}
              disabled={editable.disabled}
              error={pollErrors.fields.intervalMinutes}
            />
            <div class="actions">
              <button type="submit" class="primary" {...editable}>
                Save polling
              </button>
              <span role="status" class="small">
                {pollSaved}
              </span>
            </div>
          </form>
        </section>
      </div>
      {rotating ? (
        <ConfirmDialog
          title="Rotate the webhook secret?"
          message="A new secret is issued; the previous one keeps working for 24 hours so you can update the RMM."
          confirm="Rotate secret"
          onClose={() => setRotating(false)}
          onConfirm={async () => {
            const r = await call(
              api().POST("/v1/integrations/{integrationId}/webhook-secret/rotate", { params: { path: { integrationId: i.integrationId } } }),
            );
            if (!r.ok) return r.error;
            setSecret(r.data as Secret);
            reload();
            return null;
          }}
        />
      ) : null}
      {secret ? <SecretDialog secret={secret} title="New webhook secret" onClose={() => setSecret(null)} /> : null}
      {disconnecting ? (
        <ConfirmDialog
          title={`Disconnect ${i.name}?`}
          message="Webhooks from this integration will be refused and polling stops. Alerts already received are kept."
          confirm="Disconnect"
          onClose={() => setDisconnecting(false)}
          onConfirm={() => thenReload(call(api().DELETE("/v1/integrations/{integrationId}", { params: { path: { integrationId: i.integrationId } } })), reload)}
        />
      ) : null}
    </div>
  );
}

// -- organization mappings ------------------------------------------------------------------------

function OrgMappings({ integration: i }: { integration: Integration }) {
  const [load, reload] = useLoad(
    () => call(api().GET("/v1/integrations/{integrationId}/organization-mappings", { params: { path: { integrationId: i.integrationId } } })),
    [i.integrationId],
  );
  const { editing, setEditing, deleting, setDeleting, closeEditor, closeDelete, saved } = useEditing<S["OrgMappingOut"]>(reload);
  const guard = useEditGuard();
  const editable = { ...guard, disabled: guard.disabled || !i.isActive };
  return (
    <section aria-labelledby="orgs-h">
      <PageHead title="Organization mappings" id="orgs-h" action="Add mapping" guard={editable} onAction={() => setEditing("new")} />
      <p class="muted">
        Alerts name the RMM's organization ({i.provider === "tacticalrmm" ? "Tactical client id" : "NinjaOne organization id"}); the
        mapping says which PSA client gets the ticket.
      </p>
      <Loaded load={load} what="organization mappings">
        {(data) => (
          <DataTable
            caption="Organization mappings"
            columns={["External organization id", "External name", "Client", "Default contact", "Actions"]}
            items={data.items}
            empty="No organizations mapped yet: alerts are recorded but make no tickets until their organization is mapped."
            row={(m) => (
              <tr>
                <td>{m.externalOrganizationId}</td>
                <td>{m.externalOrganizationName ?? "—"}</td>
                <td>{m.clientName ?? m.clientId}</td>
                <td>{m.defaultContactId ? "Set" : "Client's primary"}</td>
                <RowActions what={`mapping ${m.externalOrganizationId}`} guard={editable} onEdit={() => setEditing(m)} onDelete={() => setDeleting(m)} />
              </tr>
            )}
          />
        )}
      </Loaded>
      {editing ? (
        <OrgMappingDialog
          integrationId={i.integrationId}
          mapping={editing === "new" ? null : editing}
          onClose={closeEditor}
          onSaved={saved}
        />
      ) : null}
      {deleting ? (
        <ConfirmDialog
          title="Delete this mapping?"
          message={`Alerts from organization ${deleting.externalOrganizationId} will no longer make tickets.`}
          confirm="Delete"
          onClose={closeDelete}
          onConfirm={() =>
            thenReload(
              call(
                api().DELETE("/v1/integrations/{integrationId}/organization-mappings/{mappingId}", {
                  params: { path: { integrationId: i.integrationId, mappingId: deleting.mappingId } },
                }),
              ),
              reload,
            )
          }
        />
      ) : null}
    </section>
  );
}

function OrgMappingDialog(p: { integrationId: string; mapping: S["OrgMappingOut"] | null; onClose: () => void; onSaved: () => void }) {
  const m = p.mapping;
  const [externalId, setExternalId] = useState(m?.externalOrganizationId ?? "");
  const [externalName, setExternalName] = useState(m?.externalOrganizationName ?? "");
  const [clientId, setClientId] = useState(m?.clientId ?? "");
  const [contactId, setContactId] = useState(m?.defaultContactId ?? "");
  const [error, setError] = useState<ApiError | null>(null);
  const { fields, rest } = splitErrors(error, ["externalOrganizationId", "externalOrganizationName", "clientId", "defaultContactId"]);
  const submit = async (e: Event) => {
    e.preventDefault();
    const body = {
      externalOrganizationId: externalId,
      externalOrganizationName: externalName || undefined,
      clientId,
      defaultContactId: contactId || undefined,
    };
    const path = { integrationId: p.integrationId };
    const r = m
      ? await call(api().PUT("/v1/integrations/{integrationId}/organization-mappings/{mappingId}", { params: { path: { ...path, mappingId: m.mappingId } }, body }))
      : await call(api().POST("/v1/integrations/{integrationId}/organization-mappings", { params: { path }, body }));
    if (r.ok) p.onSaved();
    else setError(r.error);
  };
  return (
    <Dialog title={m ? "Edit organization mapping" : "Map an organization"} onClose={p.onClose}>
      <form onSubmit={submit}>
        <ErrorText error={rest} prefix="Not saved" />
        <TextField label="External organization id" value={externalId} onInput={setExternalId} required error={fields.externalOrganizationId} />
        <TextField label="External organization name" value={externalName} onInput={setExternalName} error={fields.externalOrganizationName} />
        <Picker
          kind="clients"
          label="Client"
          value={clientId}
          onChange={(v) => {
            setClientId(v);
            setContactId("");
          }}
          none="— choose a client —"
          error={fields.clientId}
        />
        <Picker
          kind="contacts"
          parent={clientId}
          needsParent="— choose a client first —"
          label="Default contact"
          value={contactId}
          onChange={setContactId}
          none="— the client's primary contact —"
          error={fields.defaultContactId}
        />
        <FormActions submit="Save mapping" onCancel={p.onClose} />
      </form>
    </Dialog>
  );
}

// -- device mappings -------------------------------------------------------------------------------

function DeviceMappings({ integration: i }: { integration: Integration }) {
  const [load, reload] = useLoad(
    () => call(api().GET("/v1/integrations/{integrationId}/device-mappings", { params: { path: { integrationId: i.integrationId } } })),
    [i.integrationId],
  );
  const { editing, setEditing, deleting, setDeleting, closeEditor, closeDelete, saved } = useEditing<S["DeviceMappingOut"]>(reload);
  const guard = useEditGuard();
  const editable = { ...guard, disabled: guard.disabled || !i.isActive };
  return (
    <section aria-labelledby="devices-h">
      <PageHead title="Device mappings" id="devices-h" action="Add device mapping" guard={editable} onAction={() => setEditing("new")} />
      <p class="muted">A mapped device's tickets are linked to its asset (and the asset's client).</p>
      <Loaded load={load} what="device mappings">
        {(data) => (
          <DataTable
            caption="Device mappings"
            columns={["External device id", "Asset", "Updated", "Actions"]}
            items={data.items}
            empty="No devices mapped yet."
            row={(d) => (
              <tr>
                <td>{d.externalDeviceId}</td>
                <td>{d.assetName ?? d.assetId}</td>
                <td>{when(d.updatedAt)}</td>
                <RowActions what={`device ${d.externalDeviceId}`} guard={editable} onEdit={() => setEditing(d)} onDelete={() => setDeleting(d)} />
              </tr>
            )}
          />
        )}
      </Loaded>
      {editing ? (
        <DeviceDialog
          integrationId={i.integrationId}
          mapping={editing === "new" ? null : editing}
          onClose={closeEditor}
          onSaved={saved}
        />
      ) : null}
      {deleting ? (
        <ConfirmDialog
          title="Delete this device mapping?"
          message={`Device ${deleting.externalDeviceId} will no longer be linked to ${deleting.assetName ?? "its asset"}.`}
          confirm="Delete"
          onClose={closeDelete}
          onConfirm={() =>
            thenReload(
              call(
                api().DELETE("/v1/integrations/{integrationId}/device-mappings/{externalDeviceId}", {
                  params: { path: { integrationId: i.integrationId, externalDeviceId: deleting.externalDeviceId } },
                }),
              ),
              reload,
            )
          }
        />
      ) : null}
    </section>
  );
}

function DeviceDialog(p: { integrationId: string; mapping: S["DeviceMappingOut"] | null; onClose: () => void; onSaved: () => void }) {
  const [deviceId, setDeviceId] = useState(p.mapping?.externalDeviceId ?? "");
  const [clientId, setClientId] = useState("");
  const [assetId, setAssetId] = useState(p.mapping?.assetId ?? "");
  const [error, setError] = useState<ApiError | null>(null);
  const { fields, rest } = splitErrors(error, ["assetId"]);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!deviceId.trim()) {
      setError({ status: 422, errors: [{ path: "externalDeviceId", message: "enter the RMM's device id" }] });
      return;
    }
    const r = await call(
      api().PUT("/v1/integrations/{integrationId}/device-mappings/{externalDeviceId}", {
        params: { path: { integrationId: p.integrationId, externalDeviceId: deviceId.trim() } },
        body: { assetId },
      }),
    );
    if (r.ok) p.onSaved();
    else setError(r.error);
  };
  const deviceError = error?.errors.find((e) => e.path === "externalDeviceId")?.message;
  return (
    <Dialog title={p.mapping ? "Edit device mapping" : "Map a device"} onClose={p.onClose}>
      <form onSubmit={submit}>
        <ErrorText error={rest && !deviceError ? rest : null} prefix="Not saved" />
        <TextField label="External device id" value={deviceId} onInput={setDeviceId} disabled={!!p.mapping} error={deviceError} />
        <Picker kind="clients" label="Client (to find the asset)" value={clientId} onChange={setClientId} none="— choose a client —" />
        <Picker
          kind="assets"
          parent={clientId}
          needsParent={p.mapping ? "— keep the current asset, or choose a client —" : "— choose a client first —"}
          label="Asset"
          value={clientId ? assetId : ""}
          onChange={setAssetId}
          none="— choose an asset —"
          error={fields.assetId}
        />
        <FormActions submit="Save device mapping" onCancel={p.onClose} />
      </form>
    </Dialog>
  );
}
