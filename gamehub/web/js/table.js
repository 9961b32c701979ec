// One Russian Roulette table, for players and spectators: the live room stream (replayed from
// the first event so the log and your bets survive a reload), the turn countdown, pulling the
// trigger, leaving, and survival / elimination side bets with live odds.
import { get, post } from "./api.js";
import { describe } from "./errors.js";
import { payout, odds } from "./odds.js";
import { ROOM_EVENTS, apply, nameOf, sentence } from "./roomstate.js";
import { join } from "./lobby.js";
import { tableRules } from "./rules.js";
import { games, store } from "./store.js";
import { Stream, showState } from "./streams.js";
import { $, busy, el, formatCents, money, notify, svg, toCents } from "./ui.js";

let table = null; // { id, room, seq, stream, bets: Map, offset, bangPull, timer }
let turnTimeout = 20;
let edge = 5;

const me = () => store.user?.id;

function isPlayer(room) {
  return room.players.some((p) => p.user_id === me());
}

function serverNow() {
  return Date.now() + (table?.offset || 0);
}

function drawRevolver(room) {
  const node = $("#revolver");
  const parts = [svg("circle", { r: 56, fill: "#232b37", stroke: "#3a4657", "stroke-width": 2 })];
  for (let chamber = 0; chamber < 6; chamber += 1) {
    const angle = (chamber * 60 - 90) * (Math.PI / 180);
    const fired = chamber < room.pull_number;
    const bang = table.bangPull === chamber + 1;
    const next = room.status === "playing" && chamber === room.pull_number;
    parts.push(svg("circle", {
      cx: (36 * Math.cos(angle)).toFixed(2), cy: (36 * Math.sin(angle)).toFixed(2), r: 13,
      fill: bang ? "#ff7b7b" : fired ? "#10141b" : "#5a6b80",
      stroke: next ? "#f5b82e" : "#10141b", "stroke-width": next ? 4 : 2,
    }));
  }
  parts.push(svg("circle", { r: 8, fill: "#a9b4c2" }));
  node.replaceChildren(...parts);
  node.setAttribute("aria-label",
    `Revolver: ${room.pull_number} of 6 chambers fired, ${room.chambers_left} left`);
}

function renderSeats(room) {
  const seats = [0, 1].map((seat) => {
    const p = room.players.find((player) => player.seat === seat);
    if (!p) return el("li", { class: "seat" }, el("span", { class: "tag" }, `Seat ${seat + 1}`), "Empty seat");
    const tags = [p.user_id === me() ? "You" : `Seat ${seat + 1}`];
    if (room.winner_user_id === p.user_id) tags.push("winner");
    else if (!p.alive) tags.push("out");
    else if (room.turn_user_id === p.user_id) tags.push("to shoot");
    const classes = ["seat", room.turn_user_id === p.user_id ? "turn" : "", p.alive ? "" : "dead"];
    return el("li", { class: classes.join(" ") }, el("span", { class: "tag" }, tags.join(" · ")), p.username);
  });
  $("#seats").replaceChildren(...seats);
}

function renderTurn(room) {
  const text = $("#turn-text");
  const mine = room.turn_user_id === me();
  if (room.status === "waiting") text.textContent = "Waiting for an opponent…";
  else if (room.status === "playing") {
    text.textContent = mine ? "Your turn: pull the trigger" : `${nameOf(room, room.turn_user_id, me())}'s turn`;
  } else if (room.status === "finished") text.textContent = "Match over";
  else text.textContent = "Table cancelled";
  const pull = $("#pull-button");
  pull.hidden = !isPlayer(room) || !(room.status === "waiting" || room.status === "playing");
  pull.disabled = !(room.status === "playing" && mine) || table.pulling;
  const leave = $("#leave-button");
  leave.hidden = !(isPlayer(room) && (room.status === "waiting" || room.status === "playing"));
  leave.textContent = room.status === "playing" ? "Forfeit and leave" : "Leave table";
  tick();
}

function tick() {
  const room = table?.room;
  const box = $("#countdown");
  if (!room || room.status !== "playing" || !room.turn_deadline) {
    box.hidden = true;
    return;
  }
  const left = Math.min(turnTimeout, Math.max(0, (Date.parse(room.turn_deadline) - serverNow()) / 1000));
  box.hidden = false;
  box.classList.toggle("urgent", left <= 5);
  $("#countdown-seconds").textContent = String(Math.ceil(left));
  $("#countdown-bar").style.width = `${Math.min(100, (left / turnTimeout) * 100)}%`;
}

function renderBanner(room) {
  const banner = $("#table-banner");
  banner.className = "banner";
  if (room.status === "finished") {
    const won = room.winner_user_id === me();
    const winner = nameOf(room, room.winner_user_id, me());
    banner.classList.add(isPlayer(room) ? (won ? "good" : "bad") : "good");
    banner.replaceChildren(
      isPlayer(room) ? (won ? "You won the match! " : `You lost. ${winner} won the match. `) : `${winner} won the match. `,
      el("a", { href: `#/verify/room/${room.id}` }, "Verify this match"));
    banner.hidden = false;
  } else if (room.status === "cancelled") {
    banner.replaceChildren("This table was cancelled; stakes were refunded.");
    banner.hidden = false;
  } else banner.hidden = true;
  // What next, once the table is over: another match at the same stake, or the lobby.
  const next = $("#table-next");
  next.hidden = !(room.status === "finished" || room.status === "cancelled");
  $("#play-again").textContent = `Play again (KES ${money(room.stake)})`;
}

function renderBets(room) {
  const pullNext = room.pull_number + 1;
  const open = room.status === "playing" && room.chambers_left >= 2;
  const state = $("#bet-state");
  if (open) state.textContent = `Next pull: ${pullNext} · ${room.chambers_left} chambers left · bang chance 1 in ${room.chambers_left}`;
  else if (room.status === "waiting") state.textContent = "Betting opens when the match starts.";
  else state.textContent = "Betting is closed for this match.";
  const cents = toCents($("#bet-amount").value);
  for (const type of ["survival", "elimination"]) {
    const button = $(`#bet-${type}`);
    const shown = open ? odds(type, room.chambers_left, edge) : null;
    const pays = open && cents ? payout(cents, type, room.chambers_left, edge) : null;
    button.disabled = !open;
    button.querySelector(".odds").textContent = shown ? `×${shown}${pays ? ` · pays ${formatCents(pays)}` : ""}` : "";
    button.setAttribute("aria-label", `Bet on ${type}${shown ? `, odds ${shown}` : ""}${pays ? `, pays KES ${formatCents(pays)}` : ""}`);
  }
  const items = [...table.bets.values()].sort((a, b) => b.bet_id - a.bet_id).map((bet) => {
    const result = bet.outcome === "won" ? `won, +KES ${profit(bet)} profit (paid ${money(bet.payout)})`
      : bet.outcome === "lost" ? `lost KES ${money(bet.bet_amount)}` : bet.outcome === "refunded" ? "refunded" : "pending";
    return el("li", { class: bet.outcome === "won" ? "good-text" : bet.outcome === "lost" ? "bad-text" : "" },
      `Pull ${bet.pull_number}: ${bet.bet_type} KES ${money(bet.bet_amount)} at ×${bet.odds}: ${result}`);
  });
  $("#my-bets").replaceChildren(...(items.length ? items : [el("li", { class: "empty" }, "No bets yet.")]));
}

/** What a won bet gained over its stake, "1.40" for a payout of 11.40 on 10. */
function profit(bet) {
  return formatCents(toCents(bet.payout) - toCents(bet.bet_amount));
}

function render() {
  const room = table?.room;
  if (!room) return;
  $("#table-title").textContent = `Table #${room.id}`;
  $("#table-meta").textContent = `Stake KES ${money(room.stake)} · pot KES ${money(room.pot)} · ${room.status}${isPlayer(room) ? "" : " · watching"}`;
  renderSeats(room);
  drawRevolver(room);
  renderTurn(room);
  renderBanner(room);
  renderBets(room);
}

function log(line) {
  if (line) $("#room-log").prepend(el("li", {}, line));
}

function trackBets(type, data, live) {
  if (type === "bet_placed" && data.user_id === me()) {
    table.bets.set(data.bet_id, { ...table.bets.get(data.bet_id), ...data, outcome: null });
  }
  if (type === "bets_settled") {
    for (const bet of data.bets) {
      if (bet.user_id !== me()) continue;
      table.bets.set(bet.bet_id, { ...table.bets.get(bet.bet_id), ...bet, pull_number: data.pull_number });
      if (live) {
        notify(bet.outcome === "won" ? `Your ${bet.bet_type} bet won: +KES ${profit(bet)} profit (paid ${money(bet.payout)}).`
          : bet.outcome === "lost" ? `Your ${bet.bet_type} bet on pull ${data.pull_number} lost.`
            : `Your ${bet.bet_type} bet was refunded.`, bet.outcome === "won" ? "success" : "info");
      }
    }
  }
}

function onEvent(type, data, id) {
  if (!table) return;
  if (type === "snapshot") {
    table.room = data.room;
    table.seq = data.seq;
    render();
    return;
  }
  const live = id !== null && id > table.seq;
  if (data.at && live) {
    // Only a real clock difference counts; the event's transit time is not skew.
    const skew = Date.parse(data.at) - Date.now();
    table.offset = Math.abs(skew) > 1000 ? skew : 0;
  }
  if (type === "trigger_pulled" && data.outcome === "bang") table.bangPull = data.pull_number;
  log(sentence(live ? apply(table.room, type, data) : table.room, type, data, me()));
  trackBets(type, data, live && id > table.openedAt);
  if (live) {
    table.room = apply(table.room, type, data);
    table.seq = id;
  }
  render();
}

async function pull() {
  if (!table) return;
  const room = table.room;
  table.pulling = true;
  $("#pull-button").disabled = true;
  try {
    await post("/games/pull-trigger", { room_id: room.id });
  } catch (error) {
    notify(describe(error), "error");
  } finally {
    table.pulling = false;
    if (table) renderTurn(table.room);
  }
}

async function leave() {
  const room = table?.room;
  if (!room) return;
  if (room.status === "playing" && !confirm("Leaving now forfeits your stake: your opponent wins. Leave?")) return;
  try {
    const result = await busy($("#leave-button"), () => post("/games/leave", { room_id: room.id }));
    notify(result.refunded ? `You left; KES ${money(result.refunded)} refunded.` : `You left and forfeited KES ${money(result.forfeited)}.`, "info");
    location.hash = "#/lobby";
  } catch (error) {
    notify(describe(error), "error");
  }
}

async function bet(type, button) {
  const room = table?.room;
  const amount = $("#bet-amount").value.trim();
  if (!room) return;
  if (toCents(amount) === null) {
    notify("Enter a bet in KES, like 10.", "error");
    return;
  }
  try {
    const placed = await busy(button, () => post("/games/place-bet",
      { room_id: room.id, bet_amount: amount, bet_type: type }, { idempotent: true }));
    table.bets.set(placed.bet_id, { ...table.bets.get(placed.bet_id), ...placed, bet_amount: amount, outcome: table.bets.get(placed.bet_id)?.outcome ?? null });
    notify(`Bet placed: ${type} on pull ${placed.pull_number} at ×${placed.odds}, pays KES ${money(placed.potential_payout)} if it wins.`, "success");
    renderBets(table.room);
  } catch (error) {
    notify(describe(error), "error");
    if (table) renderBets(table.room);
  }
}

export function initTable() {
  $("#pull-button").addEventListener("click", pull);
  $("#leave-button").addEventListener("click", leave);
  for (const type of ["survival", "elimination"]) {
    const button = $(`#bet-${type}`);
    button.addEventListener("click", () => bet(type, button));
  }
  $("#bet-amount").addEventListener("input", () => table && renderBets(table.room));
  $("#bet-form").addEventListener("submit", (event) => event.preventDefault());
  $("#play-again").addEventListener("click", (event) => {
    if (table?.room) join(event.currentTarget, table.room.stake, null, (error) => notify(describe(error), "error"));
  });
}

export async function showTable(id) {
  if (table?.id === id) return;
  hideTable();
  table = { id, room: null, seq: 0, bets: new Map(), offset: 0, bangPull: null, pulling: false, openedAt: 0 };
  const opened = table;
  $("#room-log").replaceChildren();
  $("#table-title").textContent = `Table #${id}`;
  $("#table-meta").textContent = "Loading…";
  $("#table-next").hidden = true;
  tableRules();
  try {
    const catalogue = await games();
    const rules = catalogue["russian-roulette"] || {};
    turnTimeout = Number(rules.turn_timeout_s) || 20;
    edge = Number(rules.side_bet_edge_percent ?? 5);
    const { room } = await get(`/games/rooms/${id}`);
    if (table !== opened) return;
    table.room = room;
    table.seq = room.seq;
    table.openedAt = room.seq;
    render();
  } catch (error) {
    if (table !== opened) return;
    $("#table-meta").textContent = describe(error);
    return;
  }
  // From event 0: the whole story of the room for the log and our bets; the state itself comes
  // from the snapshot above plus every event after it.
  table.stream = new Stream(`table ${id}`, `/games/rooms/${id}/events`, ROOM_EVENTS, onEvent,
    { from: 0, onState: (state) => showState($("#table-conn"), state) }).start();
  table.timer = setInterval(tick, 250);
}

export function hideTable() {
  if (!table) return;
  table.stream?.close();
  clearInterval(table.timer);
  table = null;
}
