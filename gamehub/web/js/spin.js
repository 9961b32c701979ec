// Spin and Win: the wheel, the bet form, the result, and a log of spins for verification.
import { get, post } from "./api.js";
import { describe } from "./errors.js";
import { games, refreshWallet, withWalletHeld } from "./store.js";
import { $, busy, el, money, toCents } from "./ui.js";
import { Wheel } from "./wheel.js";

let wheel = null;
let drawn = false;
const LOG_KEY = "gamehub.spins";

/** Spins made in this tab, for the verify page (the server seed is revealed later). */
export function spinLog() {
  try {
    return JSON.parse(sessionStorage.getItem(LOG_KEY) || "[]");
  } catch {
    return [];
  }
}

function remember(result) {
  const log = spinLog();
  log.push({
    bet_id: result.bet_id, segment: result.segment, label: result.label,
    server_seed_hash: result.fairness.server_seed_hash, client_seed: result.fairness.client_seed,
    nonce: result.fairness.nonce,
  });
  try {
    sessionStorage.setItem(LOG_KEY, JSON.stringify(log.slice(-200)));
  } catch {
    /* the log is a convenience only */
  }
}

async function showFairness() {
  try {
    const pair = await get("/fairness");
    $("#spin-fairness").textContent =
      `server seed hash ${pair.server_seed_hash.slice(0, 12)}…, client seed ${pair.client_seed}, next nonce ${pair.nonce}`;
  } catch {
    $("#spin-fairness").textContent = "unavailable";
  }
}

async function prepare() {
  const catalogue = await games();
  const game = catalogue["spin-and-win"];
  if (!game) return;
  if (!drawn) {
    wheel.draw(game.segments);
    drawn = true;
  }
  $("#spin-limits").textContent = `Between KES ${money(game.min_bet)} and ${money(game.max_bet)}. Return to player ${Math.round(Number(game.rtp) * 1000) / 10}%.`;
  const total = game.segments.reduce((sum, s) => sum + s.weight, 0);
  $("#spin-table").replaceChildren(...game.segments.flatMap((s) => [
    el("dt", {}, `×${s.multiplier}`),
    el("dd", {}, `${/^x\d/i.test(s.label) ? "" : `${s.label} · `}chance ${((s.weight / total) * 100).toFixed(1)}%`),
  ]));
}

export function initSpin() {
  wheel = new Wheel($("#wheel"));
  const form = $("#spin-form");
  const result = $("#spin-result");
  for (const chip of form.querySelectorAll(".chip")) {
    chip.addEventListener("click", () => {
      form.bet.value = chip.dataset.amount;
    });
  }
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const cents = toCents(form.bet.value);
    if (cents === null || cents <= 0) {
      result.className = "result bad";
      result.textContent = "Enter a bet in KES, like 10 or 12.50.";
      form.bet.setAttribute("aria-invalid", "true");
      return;
    }
    form.bet.removeAttribute("aria-invalid");
    result.className = "result";
    result.textContent = "Spinning…";
    const button = $("#spin-button");
    await busy(button, async () => {
      // The stream tells the new balance as soon as the spin commits: it waits until the
      // wheel lands, and the result is shown in the same moment.
      const landed = await withWalletHeld(async () => {
        let outcome;
        try {
          outcome = await post("/games/spin-and-win/play", { bet_amount: form.bet.value.trim() }, { idempotent: true });
        } catch (error) {
          result.className = "result bad";
          result.textContent = describe(error);
          return false;
        }
        remember(outcome);
        await wheel.spinTo(outcome.segment);
        const won = toCents(outcome.win_amount);
        const bet = toCents(outcome.bet_amount);
        result.className = won > bet ? "result good" : won === bet ? "result" : "result bad";
        if (won > bet) result.textContent = `×${outcome.multiplier}: you won KES ${money(outcome.win_amount)} (bet KES ${money(outcome.bet_amount)}).`;
        else if (won > 0) result.textContent = `×${outcome.multiplier}: KES ${money(outcome.win_amount)} back (bet KES ${money(outcome.bet_amount)}).`;
        else result.textContent = `×0: no win this time (lost KES ${money(outcome.bet_amount)}).`;
        result.dataset.segment = String(outcome.segment);
        return true;
      });
      if (!landed) return;
      refreshWallet().catch(() => {});
      showFairness();
    });
  });
}

export function showSpin() {
  prepare().catch((error) => {
    $("#spin-result").textContent = describe(error);
  });
  showFairness();
}
