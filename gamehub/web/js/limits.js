// Responsible play on the wallet page: the player's deposit limits and their breaks from play
// (cool-off, self-exclusion). A break ends every login, so the page signs out after one.
import { ApiError, api, get, post, signedOut } from "./api.js";
import { describe } from "./errors.js";
import { $, busy, clearFormErrors, formError, money, notify, when } from "./ui.js";

const PERIODS = ["day", "week", "month"];
const inForce = {}; // period -> the limit in force as shown ("" for none)

function showState(state) {
  for (const period of PERIODS) {
    const limit = state.deposit_limits[period];
    const input = $(`#limit-${period}`);
    inForce[period] = limit.limit ?? "";
    if (document.activeElement !== input) input.value = inForce[period];
    const next = $(`#limit-${period}-next`);
    next.hidden = !limit.next_from;
    if (limit.next_from) {
      const what = limit.next_limit ? `KES ${money(limit.next_limit)}` : "no limit";
      next.textContent = `Changes to ${what} on ${when(limit.next_from)}.`;
    }
  }
  if (state.paused) {
    $("#pause-state").textContent = state.permanent
      ? "You are self-excluded permanently."
      : `You are on a break until ${when(state.paused_until)}.`;
  }
}

export async function showLimits() {
  try {
    showState(await get("/responsible-play"));
  } catch (error) {
    notify(describe(error), "error");
  }
}

function amountOf(form, period) {
  const text = form[period].value.trim();
  if (!text) return null;
  if (!/^\d{1,9}(\.\d{1,2})?$/.test(text) || Number(text) <= 0) {
    throw new ApiError(422, "validation_error", "Enter an amount in KES, or leave it empty.", {
      fields: [{ field: period, message: "Enter an amount in KES, or leave it empty." }],
    });
  }
  return text;
}

export function initLimits() {
  const limits = $("#limits-form");
  limits.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFormErrors(limits);
    try {
      // Only the periods whose field changed: sending the limit in force again would drop
      // a raise that is waiting for its day.
      const changed = PERIODS.filter((period) => limits[period].value.trim() !== inForce[period]);
      const body = Object.fromEntries(changed.map((period) => [period, amountOf(limits, period)]));
      const state = await busy(limits.querySelector("button[type=submit]"),
        () => api("PUT", "/responsible-play/deposit-limits", { body }));
      showState(state);
      $("#limits-status").textContent = "Limits saved.";
    } catch (error) {
      formError(limits, error);
    }
  });

  const pause = $("#pause-form");
  pause.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFormErrors(pause);
    const kind = pause.kind.value;
    const text = pause.days.value.trim();
    if (text && !/^\d{1,4}$/.test(text)) {
      formError(pause, new ApiError(422, "validation_error", "Enter a whole number of days.", {
        fields: [{ field: "days", message: "Enter a whole number of days." }],
      }));
      return;
    }
    const days = text ? Number(text) : null;
    const length = days === null ? "for good" : `for ${days} days`;
    if (!window.confirm(`Stop deposits and play ${length}? This cannot be undone or cut short.`)) return;
    try {
      const state = await busy(pause.querySelector("button[type=submit]"),
        () => post("/responsible-play/pause", { kind, days }));
      const until = state.permanent ? "for good" : `until ${when(state.paused_until)}`;
      notify(`Your break has started ${until}. Log in again to see your balance or withdraw.`,
        "success", { timeout: 15000 });
      signedOut(); // the break ended every login, this one too
    } catch (error) {
      formError(pause, error);
    }
  });
}
