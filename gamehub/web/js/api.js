// Every call to the API: JSON in and out, the bearer token, one refresh on `token_expired`,
// Idempotency-Key on money-moving POSTs, and errors turned into ApiError.
import { emit } from "./bus.js";
import { clearSession, saveSession, session } from "./tokens.js";

export class ApiError extends Error {
  constructor(status, code, message, details = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details || {};
  }
}

export function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

let refreshing = null;

// One refresh at a time: concurrent 401s all wait for the same new pair.
function refreshTokens() {
  if (!refreshing) {
    refreshing = (async () => {
      const refresh_token = session()?.refresh_token;
      if (!refresh_token) throw new ApiError(401, "session_revoked", "Please log in again.");
      const data = await send("POST", "/auth/refresh", { body: { refresh_token }, auth: false });
      saveSession(data);
      return data;
    })().finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

async function send(method, path, { body, auth = true, headers = {} } = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const token = session()?.access_token;
  if (auth && token) init.headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, "network_error", "Cannot reach the server. Check your connection.");
  }
  if (response.status === 204) return null;
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = data?.error;
    throw new ApiError(
      response.status,
      error?.code || "http_error",
      error?.message || `The server answered ${response.status}.`,
      error?.details,
    );
  }
  return data;
}

/** Call the API. `idempotent: true` sends one Idempotency-Key, reused if the call is retried. */
export async function api(method, path, { body, auth = true, idempotent = false, query } = {}) {
  if (query) {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(query)) {
      if (value !== undefined && value !== null && value !== "") params.set(name, String(value));
    }
    const text = params.toString();
    if (text) path += `?${text}`;
  }
  const headers = idempotent ? { "Idempotency-Key": newKey() } : {};
  try {
    return await send(method, path, { body, auth, headers });
  } catch (error) {
    // The login was ended elsewhere (logout, a pause, a suspension): this page is signed out.
    if (auth && error instanceof ApiError && error.code === "session_revoked") signedOut();
    if (!(auth && error instanceof ApiError && error.code === "token_expired")) throw error;
    try {
      await refreshTokens();
    } catch (refreshError) {
      signedOut();
      throw refreshError;
    }
    return send(method, path, { body, auth, headers });
  }
}

export function signedOut() {
  clearSession();
  emit("signed-out");
}

export const get = (path, query) => api("GET", path, { query });
export const post = (path, body, options = {}) => api("POST", path, { body, ...options });
