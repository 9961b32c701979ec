// The session's tokens: kept in memory for every call and mirrored into sessionStorage.
//
// Why sessionStorage: a reload of the tab must keep the player signed in (a reload mid-match
// resumes the live view), so memory alone is not enough. sessionStorage is scoped to this one
// tab and is cleared when the tab closes, so tokens are not left behind on a shared device and
// are not shared with other tabs (localStorage would be both). Unlike a cookie, nothing sends it
// implicitly, so there is no cross-site request forgery to defend against. Script running in the
// page could read it; that is why the page loads only its own files, under a strict
// Content-Security-Policy, and never puts untrusted text into HTML. Access tokens never go into
// a URL: streams use single-use tickets instead.
const KEY = "gamehub.session";

let current = read();

function read() {
  try {
    const raw = sessionStorage.getItem(KEY);
    return raw ? JSON.parse(raw) : null;
  } catch {
    return null;
  }
}

export function session() {
  return current;
}

export function saveSession({ access_token, refresh_token, user }) {
  current = { access_token, refresh_token, user: user ?? current?.user ?? null };
  try {
    sessionStorage.setItem(KEY, JSON.stringify(current));
  } catch {
    // Storage may be unavailable (private mode); memory still works for this page's life.
  }
}

export function clearSession() {
  current = null;
  try {
    sessionStorage.removeItem(KEY);
  } catch {
    /* nothing stored */
  }
}
