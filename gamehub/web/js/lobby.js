// The lobby: live tables from /games/lobby/events, and joining or opening a table by stake.
import { post } from "./api.js";
import { lobbyRules } from "./rules.js";
import { store } from "./store.js";
import { Stream, showState } from "./streams.js";
import { $, busy, clearFormErrors, el, formError, money, toCents } from "./ui.js";

const rooms = new Map();
let stream = null;

function seatedIn(room) {
  return room.players.some((player) => player.user_id === store.user?.id);
}

function card(room) {
  const names = room.players.map((p) => p.username).join(" vs ") || "nobody yet";
  const mine = seatedIn(room);
  const actions = el("div", { class: "inline" });
  if (room.status === "waiting" && !mine) {
    actions.append(el("button", {
      type: "button",
      "aria-label": `Join table ${room.id} for KES ${money(room.stake)}`,
      onclick: (event) => join(event.currentTarget, room.stake, room.id),
    }, "Join"));
  }
  actions.append(el("a", {
    class: "button", href: `#/table/${room.id}`,
    "aria-label": `${mine ? "Open" : "Watch"} table ${room.id}`,
  }, mine ? "Open" : "Watch"));
  return el("li", { class: "room", "data-room": room.id },
    el("h3", {}, `Table #${room.id}`),
    el("p", {}, `Stake KES ${money(room.stake)} · pot KES ${money(room.pot)}`),
    el("p", { class: "muted" }, `${room.status === "waiting" ? "Waiting for a player" : "Playing"} · ${room.players.length}/2 · ${names}`),
    actions);
}

function render() {
  const list = $("#rooms");
  const open = [...rooms.values()]
    .filter((room) => room.status === "waiting" || room.status === "playing")
    .sort((a, b) => (a.status === b.status ? b.id - a.id : a.status === "waiting" ? -1 : 1));
  list.replaceChildren(...(open.length ? open.map(card)
    : [el("li", { class: "empty" }, "No tables right now. Open one with the form above.")]));
  const mine = open.find(seatedIn);
  const banner = $("#my-table");
  banner.hidden = !mine;
  if (mine) {
    banner.replaceChildren("You are seated at ",
      el("a", { href: `#/table/${mine.id}` }, `table #${mine.id}`), ` (${mine.status}).`);
  }
}

function onEvent(type, data) {
  if (type === "lobby") {
    rooms.clear();
    for (const room of data.rooms) rooms.set(room.id, room);
  } else if (type === "room_closed") {
    rooms.delete(data.room_id);
  } else if (data.room) {
    rooms.set(data.room_id, data.room);
  }
  render();
}

/** Join (or open) a table at `stake`; errors go under the lobby's form, or to `onError`. */
export async function join(button, stake, roomId, onError = null) {
  const form = $("#join-form");
  clearFormErrors(form);
  try {
    const body = { stake: String(stake) };
    if (roomId) body.room_id = roomId;
    const { room } = await busy(button, () => post("/games/join", body, { idempotent: true }));
    rooms.set(room.id, room);
    location.hash = `#/table/${room.id}`;
  } catch (error) {
    if (onError) onError(error);
    else formError(form, error);
  }
}

export function initLobby() {
  const form = $("#join-form");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const cents = toCents(form.stake.value);
    if (cents === null || cents <= 0) {
      form.querySelector(".form-error").textContent = "Enter a stake in KES, like 50.";
      return;
    }
    join(form.querySelector("button[type=submit]"), form.stake.value.trim());
  });
  form.append(el("p", { class: "form-error", role: "alert" }));
}

export function showLobby() {
  lobbyRules();
  if (stream) return;
  stream = new Stream("lobby", "/games/lobby/events",
    ["lobby", "room_opened", "room_updated", "room_closed"], onEvent,
    { onState: (state) => showState($("#lobby-conn"), state) }).start();
}

export function hideLobby() {
  stream?.close();
  stream = null;
}
