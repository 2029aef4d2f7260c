// The typed admin API client. `schema.gen.ts` is generated from docs/openapi.json at build time
// (npm run gen), so a changed API breaks `tsc` here instead of the running UI.
import createClient, { type Client } from "openapi-fetch";
import type { components, paths } from "./schema.gen";

export type S = components["schemas"];
export type ApiError = { status: number; errors: { path: string; message: string }[] };

let client: Client<paths> | null = null;
let baseUrl = "";
let tokenSource: () => string | null = () => null;
let onUnauthorized: () => void = () => {};

export function initApi(url: string, token: () => string | null, unauthorized: () => void): Client<paths> {
  baseUrl = url.replace(/\/$/, "");
  tokenSource = token;
  onUnauthorized = unauthorized;
  client = createClient<paths>({ baseUrl });
  client.use({
    onRequest({ request }) {
      const t = tokenSource();
      if (t) request.headers.set("Authorization", `Bearer ${t}`);
      return request;
    },
    onResponse({ response }) {
      if (response.status === 401) onUnauthorized();
      return response;
    },
  });
  return client;
}

export function api(): Client<paths> {
  if (!client) throw new Error("API client used before sign-in");
  return client;
}

/** The API's one error shape from any failed call (a network failure becomes a message too). */
export function asError(status: number, body: unknown): ApiError {
  const errors = (body as { errors?: { path?: string; message?: string }[] } | undefined)?.errors;
  if (Array.isArray(errors) && errors.length) {
    return { status, errors: errors.map((e) => ({ path: String(e.path ?? ""), message: String(e.message ?? "error") })) };
  }
  return { status, errors: [{ path: "", message: status ? `request failed (HTTP ${status})` : "network error" }] };
}

type Result<T> = { ok: true; status: number; data: T } | { ok: false; status: number; error: ApiError };

/** Unwrap an openapi-fetch answer into ok/data or the error shape. */
export async function call<T>(
  promise: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<Result<T>> {
  try {
    const { data, error, response } = await promise;
    if (response.ok) return { ok: true, status: response.status, data: data as T };
    return { ok: false, status: response.status, error: asError(response.status, error) };
  } catch {
    return { ok: false, status: 0, error: asError(0, undefined) };
  }
}
