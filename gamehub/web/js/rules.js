// Russian Roulette's rules and limits in a player's words, from the catalogue (GET /games):
// nothing here is a number of its own, so what the lobby and the table say is what the server
// enforces, and a change to the catalogue shows up without touching the client.
import { games } from "./store.js";
import { $, el, money } from "./ui.js";

function duration(seconds) {
  const s = Number(seconds);
  if (s >= 120 && s % 60 === 0) return `${s / 60} minutes`;
  return `${s} seconds`;
}

/** The rules as sentences, from the catalogue entry of russian-roulette. */
export function rouletteRules(game) {
  return [
    `Stake: KES ${money(game.min_bet)} to ${money(game.max_bet)}. It goes into escrow when you sit down.`,
    `Two players take turns pulling the trigger of a six-chamber revolver with one bullet. The survivor wins both stakes less a ${game.rake_percent}% rake.`,
    `Each turn lasts ${duration(game.turn_timeout_s)}. If it runs out, the trigger is pulled for you automatically.`,
    `If no opponent joins within ${duration(game.waiting_timeout_s)}, the table closes and your stake comes back.`,
    "Leaving before the match starts refunds your stake; leaving during a match forfeits it to your opponent.",
    `Side bets, for players and spectators: KES ${money(game.side_bet_min)} to ${money(game.side_bet_max)} on the next pull, survival or elimination, at odds with a ${game.side_bet_edge_percent}% house edge. Betting closes when one chamber is left.`,
  ];
}

/** Fill a rules list (`<ul>`) with the current rules; the stake hint too when given. */
export async function showRules(list, hint = null) {
  try {
    const game = (await games())["russian-roulette"];
    if (!game) return;
    list.replaceChildren(...rouletteRules(game).map((line) => el("li", {}, line)));
    if (hint) {
      hint.textContent = `KES ${money(game.min_bet)} to ${money(game.max_bet)}. Joins an open table with this stake, or opens a new one. The stake goes into escrow.`;
    }
  } catch {
    list.replaceChildren(el("li", { class: "muted" }, "The rules could not be loaded; reload to try again."));
  }
}

export const lobbyRules = () => showRules($("#lobby-rules-list"), $("#join-hint"));
export const tableRules = () => showRules($("#table-rules-list"));
