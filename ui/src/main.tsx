import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, call, initApi, type S } from "./api/client";
import { clearToken, finishCognitoLogin, loadConfig, logoutUrl, startCognitoLogin, takeTokenFromHash, token, type Config } from "./auth";
import { AlertDetailPage, AlertsPage } from "./pages/alerts";
import { IntegrationPage, IntegrationsPage } from "./pages/integrations";
import { PreferencesPage } from "./pages/preferences";
import { WindowsPage } from "./pages/windows";
import "./style.css";
import { ErrorText, Loading, READ_ONLY_REASON_ID, SessionContext, type Session } from "./ui";

function useHashRoute(): string[] {
  const [hash, setHash] = useState(() => location.hash);
  useEffect(() => {
    const on = () => {
      setHash(location.hash);
      window.scrollTo(0, 0);
    };
    window.addEventListener("hashchange", on);
    // Effects run after paint: a link followed between the first render and this line fired its
    // hashchange before anyone listened. Catch up (the same string re-renders nothing).
    setHash(location.hash);
    return () => window.removeEventListener("hashchange", on);
  }, []);
  return (hash.replace(/^#\/?/, "") || "integrations").split("/").filter(Boolean);
}

const NAV = [
  ["integrations", "Integrations"],
  ["windows", "Maintenance windows"],
  ["alerts", "Alerts"],
  ["preferences", "My notifications"],
] as const;

function Shell({ cfg, session }: { cfg: Config; session: Session }) {
  const parts = useHashRoute();
  const [section, id, sub] = parts;
  let page;
  if (section === "integrations" && id) page = <IntegrationPage id={id} tab={sub ?? "settings"} />;
  else if (section === "windows") page = <WindowsPage />;
  else if (section === "alerts" && id) page = <AlertDetailPage id={id} />;
  else if (section === "alerts") page = <AlertsPage />;
  else if (section === "preferences") page = <PreferencesPage />;
  else page = <IntegrationsPage />;
  const logout = logoutUrl(cfg);
  return (
    <SessionContext.Provider value={session}>
      <a class="skip" href="#main" onClick={(e) => { e.preventDefault(); document.getElementById("main")?.focus(); }}>
        Skip to content
      </a>
      <header class="top">
        <span class="brand">RMM Alerts</span>
        <nav aria-label="Main">
          {NAV.map(([key, label]) => (
            <a href={`#/${key}`} aria-current={section === key || (!section && key === "integrations") ? "page" : undefined}>
              {label}
            </a>
          ))}
        </nav>
        <span class="who">
          <span title={session.me?.userId}>{session.canEdit ? "Administrator" : "Read-only user"}</span>
          <button
            type="button"
            class="link"
            onClick={() => {
              clearToken();
              if (logout) location.assign(logout);
              else location.reload();
            }}
          >
            Sign out
          </button>
        </span>
      </header>
      {!session.canEdit ? (
        <p class="banner" id={READ_ONLY_REASON_ID} role="note">
          <span aria-hidden="true">🔒 </span>
          {session.reason}
        </p>
      ) : null}
      <main id="main" tabIndex={-1} data-route={parts.join("/")}>
        {page}
      </main>
    </SessionContext.Provider>
  );
}

function App() {
  const [cfg, setCfg] = useState<Config | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [session, setSession] = useState<Session | null>(null);
  const [signedOut, setSignedOut] = useState(false);

  useEffect(() => {
    // A new `#token=` while signed in (another user's link): switch to that user.
    const onHash = () => {
      if (/^#token=/.test(location.hash)) {
        takeTokenFromHash();
        location.reload();
      }
    };
    window.addEventListener("hashchange", onHash);
    return () => window.removeEventListener("hashchange", onHash);
  }, []);

  useEffect(() => {
    (async () => {
      let config: Config;
      try {
        config = await loadConfig();
      } catch (e) {
        setProblem(`The UI's configuration could not be loaded (${String(e)}).`);
        return;
      }
      setCfg(config);
      takeTokenFromHash();
      if (config.mode === "cognito") {
        const err = await finishCognitoLogin(config);
        if (err) setProblem(err);
      }
      initApi(config.apiUrl, token, () => {
        clearToken();
        setSignedOut(true);
      });
      if (!token()) {
        setSignedOut(true);
        return;
      }
      const me = await call<S["Me"]>(api().GET("/v1/me"));
      if (!me.ok) {
        if (me.status !== 401) setProblem(me.error.errors.map((e) => e.message).join("; "));
        return;
      }
      setSession({
        me: me.data,
        canEdit: me.data.isAdmin,
        reason: me.data.isAdmin ? "" : "Read-only: you are not in the rmm-admin group, so editing is turned off. Ask an administrator to change settings.",
      });
    })();
  }, []);

  if (signedOut && cfg) {
    return (
      <main id="main" class="signin">
        <h1>RMM Alerts — sign in</h1>
        {cfg.mode === "cognito" ? (
          <button type="button" onClick={() => startCognitoLogin(cfg)}>
            Sign in
          </button>
        ) : (
          <p>
            Open the link <code>/#token=&lt;admin token&gt;</code> printed by <code>rmm-alerts dev</code> (the token is in{" "}
            <code>.rmm-alerts/dev-credentials.json</code>).
          </p>
        )}
      </main>
    );
  }
  if (problem) {
    return (
      <main id="main">
        <h1>RMM Alerts</h1>
        <ErrorText error={{ status: 0, errors: [{ path: "", message: problem }] }} />
      </main>
    );
  }
  if (!cfg || !session) return <main id="main"><Loading what="your session" /></main>;
  return <Shell cfg={cfg} session={session} />;
}

render(<App />, document.getElementById("app")!);
