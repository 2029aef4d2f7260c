import { useEffect, useState } from "preact/hooks";
import { api, call, type ApiError, type S } from "../api/client";
import { CheckField, ErrorText, Loading } from "../ui";

type Prefs = S["NotificationPreferences"];

export function PreferencesPage() {
  const [state, setState] = useState<"loading" | "error" | "ok">("loading");
  const [prefs, setPrefs] = useState<Prefs>({ rmmAlerts: { inApp: true, email: true } });
  const [error, setError] = useState<ApiError | null>(null);
  const [saved, setSaved] = useState("");
  useEffect(() => {
    call(api().GET("/v1/me/notification-preferences")).then((r) => {
      if (r.ok) {
        setPrefs(r.data);
        setState("ok");
      } else {
        setError(r.error);
        setState("error");
      }
    });
  }, []);
  const set = (k: "inApp" | "email", v: boolean) => setPrefs({ rmmAlerts: { ...prefs.rmmAlerts, [k]: v } });
  return (
    <>
      <h1>My notifications</h1>
      {state === "loading" ? <Loading what="your preferences" /> : null}
      {state === "error" ? <ErrorText error={error} prefix="Could not load your preferences" /> : null}
      {state === "ok" ? (
        <form
          class="card narrow"
          onSubmit={async (e) => {
            e.preventDefault();
            setSaved("");
            const r = await call(api().PUT("/v1/me/notification-preferences", { body: prefs }));
            if (r.ok) {
              setPrefs(r.data ?? prefs);
              setError(null);
              setSaved("Preferences saved.");
            } else setError(r.error);
          }}
        >
          <fieldset>
            <legend>RMM alerts notify me</legend>
            <CheckField label="In the app" checked={prefs.rmmAlerts.inApp} onChange={(v) => set("inApp", v)} />
            <CheckField label="By e-mail" checked={prefs.rmmAlerts.email} onChange={(v) => set("email", v)} />
          </fieldset>
          <ErrorText error={error} prefix="Not saved" />
          <div class="actions">
            <button type="submit" class="primary">
              Save preferences
            </button>
            <span role="status">{saved}</span>
          </div>
        </form>
      ) : null}
    </>
  );
}
