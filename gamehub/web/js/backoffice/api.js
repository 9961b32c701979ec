// The back office's calls to /admin: the operator token (memory and sessionStorage, never a
// cookie), JSON in and out, errors as ApiError. A 401 means the token ended: sign in again.
import { ApiError } from "../api.js";

const KEY = "gamehub.operator";
let current = null;

export function operatorSession() {
  if (current) return current;
  try {
    current = JSON.parse(sessionStorage.getItem(KEY) || "null");
  } catch {
    current = null;
  }
  return current;
}

export function saveOperator(data) {
  current = data;
  sessionStorage.setItem(KEY, JSON.stringify(data));
}

export function forgetOperator() {
  current = null;
  sessionStorage.removeItem(KEY);
}

let onSignedOut = () => {};
export function whenSignedOut(callback) {
  onSignedOut = callback;
}

export async function call(method, path, body, headers = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const token = operatorSession()?.access_token;
  if (token) init.headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, "network_error", "Cannot reach the server. Check your connection.");
  }
  if (response.status === 401 && path !== "/admin/login") {
    forgetOperator();
    onSignedOut();
  }
  const isJson = (response.headers.get("Content-Type") || "").includes("json");
  const data = isJson ? await response.json().catch(() => null) : await response.text();
  if (!response.ok) {
    const error = (data && data.error) || {};
    throw new ApiError(response.status, error.code || "error", error.message || "Something went wrong.", error.details);
  }
  return { status: response.status, data };
}

export const get = (path) => call("GET", path).then((r) => r.data);
export const post = (path, body, headers) => call("POST", path, body, headers);
