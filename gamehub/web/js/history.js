// History and statistics: totals overall and per game, the bets, and net result over time.
import { get } from "./api.js";
import { describe } from "./errors.js";
import { drawNetChart } from "./chart.js";
import { $, el, formatCents, money, notify, toCents, when } from "./ui.js";

const bets = new Map();
let nextBefore = null;

const GAME_NAMES = { "spin-and-win": "Spin and Win", "russian-roulette": "Russian Roulette" };
const gameName = (slug) => GAME_NAMES[slug] || slug;

function signed(text) {
  const cents = toCents(String(text).replace(/^-/, "")) * (String(text).startsWith("-") ? -1 : 1);
  return el("span", { class: cents > 0 ? "good-text" : cents < 0 ? "bad-text" : "" }, `${cents > 0 ? "+" : ""}${money(text)}`);
}

function renderStats(stats) {
  const o = stats.overall;
  $("#stats").replaceChildren(
    el("div", {}, el("dt", {}, "Bets"), el("dd", {}, String(o.bets))),
    el("div", {}, el("dt", {}, "Wagered"), el("dd", {}, `KES ${money(o.wagered)}`)),
    el("div", {}, el("dt", {}, "Won"), el("dd", {}, `KES ${money(o.won)}`)),
    el("div", {}, el("dt", {}, "Net"), el("dd", {}, "KES ", signed(o.net))));
  const rows = stats.by_game.map((g) => el("tr", {},
    el("td", {}, gameName(g.game)), el("td", {}, String(g.bets)), el("td", {}, money(g.wagered)),
    el("td", {}, money(g.won)), el("td", {}, signed(g.net))));
  $("#stats-by-game").replaceChildren(rows.length ? el("table", { class: "data" },
    el("caption", { class: "sr-only" }, "Totals by game"),
    el("thead", {}, el("tr", {}, ...["Game", "Bets", "Wagered", "Won", "Net"].map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, rows)) : "");
}

function verifyLink(bet) {
  if (bet.room_id) return el("a", { href: `#/verify/room/${bet.room_id}` }, "Verify");
  if (bet.game === "spin-and-win") return el("a", { href: "#/verify" }, "Verify");
  return "";
}

function renderBets() {
  const sorted = [...bets.values()].sort((a, b) => b.id - a.id);
  $("#bets-table tbody").replaceChildren(...(sorted.length ? sorted.map((bet) => el("tr", {},
    el("td", {}, when(bet.created_at)),
    el("td", {}, `${gameName(bet.game)}${bet.bet_type && bet.bet_type !== "spin" && bet.bet_type !== bet.game ? ` · ${bet.bet_type}` : ""}`),
    el("td", {}, money(bet.bet_amount)),
    el("td", { class: "wide-only" }, money(bet.win_amount)),
    el("td", {}, bet.net_result === null ? el("span", { class: "status-pending" }, "pending") : signed(bet.net_result)),
    el("td", {}, verifyLink(bet))))
    : [el("tr", {}, el("td", { colspan: 6, class: "empty" }, "No bets yet."))]));
  $("#bets-more").hidden = nextBefore === null;
  const box = $("#bets-scroll");
  $("#bets-scroll-hint").hidden = box.scrollWidth <= box.clientWidth + 1;
  const settled = sorted.filter((b) => b.net_result !== null).reverse();
  let total = 0;
  const points = settled.map((b) => {
    total += toCents(String(b.net_result).replace(/^-/, "")) * (String(b.net_result).startsWith("-") ? -1 : 1);
    return { at: new Date(b.created_at), cents: total };
  });
  drawNetChart($("#net-chart"), points);
  $("#net-caption").textContent = points.length
    ? `Cumulative net over your last ${points.length} settled bets: KES ${formatCents(total)}.`
    : "";
}

async function load(more = false) {
  try {
    const page = await get("/history", { limit: 100, before: more ? nextBefore : undefined });
    if (!more) bets.clear();
    for (const bet of page.bets) bets.set(bet.id, bet);
    nextBefore = page.next_before ?? null;
    renderBets();
  } catch (error) {
    notify(describe(error), "error");
  }
}

export function initHistory() {
  $("#bets-more").addEventListener("click", () => load(true));
}

export async function showHistory() {
  load();
  try {
    renderStats(await get("/stats"));
  } catch (error) {
    notify(describe(error), "error");
  }
}
