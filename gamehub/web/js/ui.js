// DOM helpers, money as integer cents, dates, notices and form error display.
import { describe, fieldErrors } from "./errors.js";

export const $ = (selector, root = document) => root.querySelector(selector);

/** Build an element; text children become text nodes (never HTML). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const SVG = "http://www.w3.org/2000/svg";
export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  for (const child of children) node.append(child instanceof Node ? child : String(child));
  return node;
}

// Money never goes through floating point: "99.50" <-> 9950 cents.
export function toCents(text) {
  const match = /^\s*(\d{1,9})(?:\.(\d{1,2}))?\s*$/.exec(String(text ?? ""));
  if (!match) return null;
  return Number(match[1]) * 100 + Number((match[2] || "0").padEnd(2, "0"));
}

export function formatCents(cents) {
  const sign = cents < 0 ? "-" : "";
  const abs = Math.abs(cents);
  const whole = Math.floor(abs / 100).toLocaleString("en-US");
  return `${sign}${whole}.${String(abs % 100).padStart(2, "0")}`;
}

/** "1234.50" from the API as "1,234.50". */
export const money = (text) => {
  const negative = String(text).startsWith("-");
  const cents = toCents(String(text).replace(/^-/, ""));
  return cents === null ? String(text) : formatCents(negative ? -cents : cents);
};

export function when(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  return date.toLocaleString(undefined, { dateStyle: "short", timeStyle: "medium" });
}

/** A notice over the page. One with a `key` replaces the earlier notice of that key (news of
 * one thing, such as one payment, is a line that changes, not a pile). */
export function notify(message, kind = "info", { timeout = 6000, key = null } = {}) {
  const box = $("#notices");
  const close = el("button", { type: "button", class: "ghost small", "aria-label": "Dismiss" }, "✕");
  const note = el("div", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" },
    el("p", {}, message), close);
  close.addEventListener("click", () => note.remove());
  if (key) {
    note.dataset.key = key;
    for (const old of box.querySelectorAll(".notice")) if (old.dataset.key === key) old.remove();
  }
  box.append(note);
  while (box.children.length > 3) box.firstElementChild.remove();
  if (timeout) setTimeout(() => note.remove(), kind === "error" ? timeout * 1.5 : timeout);
  return note;
}

export function showError(error) {
  notify(describe(error), "error");
}

/** Show an API error on a form: per field where the API names fields, else the form line. */
export function formError(form, error) {
  clearFormErrors(form);
  const fields = fieldErrors(error);
  let placed = false;
  for (const [field, message] of Object.entries(fields)) {
    const slot = form.querySelector(`.field-error[data-for="${field}"]`);
    const input = form.querySelector(`[name="${field}"]`);
    if (input) input.setAttribute("aria-invalid", "true");
    if (slot) {
      slot.textContent = message;
      placed = true;
    }
  }
  const line = form.querySelector(".form-error");
  if (line && !placed) line.textContent = describe(error);
  else if (!line && !placed) showError(error);
}

export function clearFormErrors(form) {
  for (const slot of form.querySelectorAll(".form-error, .field-error")) slot.textContent = "";
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
}

/** Disable a button while `work` runs (no double submits). */
export async function busy(button, work) {
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}
