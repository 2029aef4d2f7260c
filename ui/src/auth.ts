// Sign-in. Locally (`rmm-alerts dev`), `/#token=<token>` hands the UI a bearer token; in AWS the
// Cognito hosted UI signs in with the authorization code grant and PKCE. Tokens live in
// sessionStorage (this tab only, never a cookie) and are removed from the URL at once.

export type Config = {
  mode: "local" | "cognito";
  apiUrl: string;
  cognitoDomain?: string;
  clientId?: string;
};

const TOKEN_KEY = "rmm-alerts.token";
const PKCE_KEY = "rmm-alerts.pkce";

export async function loadConfig(): Promise<Config> {
  const response = await fetch("./config.json", { cache: "no-store" });
  if (!response.ok) throw new Error(`config.json: HTTP ${response.status}`);
  const raw = (await response.json()) as Partial<Config>;
  return {
    mode: raw.mode === "cognito" ? "cognito" : "local",
    apiUrl: raw.apiUrl ?? "",
    cognitoDomain: raw.cognitoDomain?.replace(/\/$/, ""),
    clientId: raw.clientId,
  };
}

export function token(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function clearToken(): void {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** Take a token from `#token=...` (local sign-in) and drop it from the address bar and history. */
export function takeTokenFromHash(): void {
  const match = /^#token=([^&]+)/.exec(location.hash);
  if (!match?.[1]) return;
  sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]));
  history.replaceState(null, "", location.pathname + location.search + "#/integrations");
}

function redirectUri(): string {
  return location.origin + location.pathname;
}

function b64url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function random(n: number): string {
  return b64url(crypto.getRandomValues(new Uint8Array(n)));
}

/** Start the hosted UI sign-in (authorization code + PKCE S256). */
export async function startCognitoLogin(cfg: Config): Promise<void> {
  const verifier = random(48);
  const state = random(16);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  sessionStorage.setItem(PKCE_KEY, JSON.stringify({ verifier, state, hash: location.hash }));
  const q = new URLSearchParams({
    response_type: "code",
    client_id: cfg.clientId ?? "",
    redirect_uri: redirectUri(),
    scope: "openid email profile",
    state,
    code_challenge: b64url(digest),
    code_challenge_method: "S256",
  });
  location.assign(`${cfg.cognitoDomain}/oauth2/authorize?${q.toString()}`);
}

/** Finish the sign-in when the hosted UI sends the browser back with `?code=&state=`. */
export async function finishCognitoLogin(cfg: Config): Promise<string | null> {
  const params = new URLSearchParams(location.search);
  const code = params.get("code");
  if (!code) return null;
  const saved = JSON.parse(sessionStorage.getItem(PKCE_KEY) ?? "{}") as { verifier?: string; state?: string; hash?: string };
  sessionStorage.removeItem(PKCE_KEY);
  history.replaceState(null, "", redirectUri() + (saved.hash || "#/integrations"));
  if (!saved.verifier || params.get("state") !== saved.state) return "The sign-in answer did not match this tab; sign in again.";
  const body = new URLSearchParams({
    grant_type: "authorization_code",
    client_id: cfg.clientId ?? "",
    code,
    redirect_uri: redirectUri(),
    code_verifier: saved.verifier,
  });
  const response = await fetch(`${cfg.cognitoDomain}/oauth2/token`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body,
  });
  if (!response.ok) return `Sign-in failed (HTTP ${response.status}).`;
  const tokens = (await response.json()) as { id_token?: string };
  // The API's Cognito authorizer reads the ID token (tenant and groups are its claims).
  if (!tokens.id_token) return "Sign-in returned no ID token.";
  sessionStorage.setItem(TOKEN_KEY, tokens.id_token);
  return null;
}

export function logoutUrl(cfg: Config): string | null {
  if (cfg.mode !== "cognito" || !cfg.cognitoDomain) return null;
  const q = new URLSearchParams({ client_id: cfg.clientId ?? "", logout_uri: redirectUri() });
  return `${cfg.cognitoDomain}/logout?${q.toString()}`;
}
