// Verify a finished spin or match: recompute it in the browser (WebCrypto) from the revealed
// seed, ask the server's /fairness/verify too, and show whether both agree.
import { get, post } from "./api.js";
import { describe } from "./errors.js";
import { available, rouletteOutcome, sha256Hex, spinOutcome } from "./fair.js";
import { spinLog } from "./spin.js";
import { games } from "./store.js";
import { $, busy, clearFormErrors, el, formError } from "./ui.js";

let loadedRoom = null;

function pairList(node, pair) {
  node.replaceChildren(...Object.entries(pair).flatMap(([key, value]) => [
    el("dt", {}, key.replaceAll("_", " ")), el("dd", {}, value === null ? "—" : String(value))]));
}

async function showPair() {
  try {
    pairList($("#pair-current"), await get("/fairness"));
  } catch (error) {
    $("#pair-current").replaceChildren(el("dd", {}, describe(error)));
  }
}

function fill({ game, server_seed = "", client_seed = "", nonce = "", hash = "" }) {
  const form = $("#verify-form");
  form.game.value = game;
  form.server_seed.value = server_seed;
  form.client_seed.value = client_seed;
  form.nonce.value = nonce === null ? "" : String(nonce);
  form.hash.value = hash;
  $("#verify-result").replaceChildren();
}

async function rotate() {
  try {
    const { previous, current } = await busy($("#rotate-button"), () => post("/fairness/rotate", {}));
    pairList($("#pair-previous"), previous);
    $("#pair-previous").prepend(el("dt", { class: "kv-title" }, "Revealed pair"), el("dd", {}, "these spins can now be checked"));
    pairList($("#pair-current"), current);
    const spins = spinLog().filter((s) => s.server_seed_hash === previous.server_seed_hash);
    const list = el("ul", { class: "list" }, ...spins.map((s) => el("li", {},
      el("button", {
        type: "button", class: "ghost small",
        onclick: () => fill({ game: "spin-and-win", server_seed: previous.server_seed, client_seed: s.client_seed, nonce: s.nonce, hash: s.server_seed_hash }),
      }, `Check spin #${s.nonce}`), ` landed on ${s.label}`)));
    $("#pair-previous").append(el("dt", {}, "spins"), el("dd", {}, spins.length ? list : "none made in this tab"));
    fill({
      game: "spin-and-win", server_seed: previous.server_seed, client_seed: previous.client_seed,
      nonce: previous.last_nonce ?? 0, hash: previous.server_seed_hash,
    });
  } catch (error) {
    formError($("#verify-form"), error);
  }
}

async function loadRoom(id) {
  const form = $("#verify-form");
  clearFormErrors(form);
  try {
    const { room } = await get(`/games/rooms/${id}`);
    loadedRoom = room;
    if (!room.fairness.server_seed) {
      form.querySelector(".form-error").textContent = `Table #${id} has not finished: its server seed is revealed at the end of the match.`;
    }
    form.room.value = String(id);
    fill({
      game: "russian-roulette", server_seed: room.fairness.server_seed || "",
      client_seed: room.fairness.client_seed || "", nonce: room.fairness.nonce, hash: room.fairness.server_seed_hash || "",
    });
  } catch (error) {
    formError(form, error);
  }
}

function line(label, value) {
  return el("div", {}, el("span", { class: "muted" }, `${label}: `), value);
}

function roomCheck(result) {
  const room = loadedRoom;
  if (!room || room.status !== "finished") return null;
  const bangPull = result.bullet + 1;
  const shooterSeat = (result.firstShooterSeat + result.bullet) % 2;
  const loser = room.players.find((p) => p.seat === shooterSeat);
  if (room.pull_number < bangPull) return line("This match", `ended by forfeit before pull ${bangPull}, where the bullet was.`);
  const agrees = room.winner_user_id !== loser?.user_id;
  return line("This match", el("span", { class: agrees ? "good-text" : "bad-text" },
    `the bullet fires on pull ${bangPull}, shot by ${loser?.username ?? `seat ${shooterSeat + 1}`}: ${agrees ? "matches the result ✓" : "does NOT match the result ✗"}`));
}

async function verify(event) {
  event.preventDefault();
  const form = $("#verify-form");
  clearFormErrors(form);
  const out = $("#verify-result");
  const game = form.game.value;
  const serverSeed = form.server_seed.value.trim();
  const clientSeed = form.client_seed.value.trim();
  const nonce = form.nonce.value.trim();
  const hash = form.hash.value.trim();
  out.replaceChildren(el("p", {}, "Checking…"));
  let server;
  try {
    server = await get("/fairness/verify", { server_seed: serverSeed, client_seed: clientSeed, nonce, game });
  } catch (error) {
    out.replaceChildren();
    formError(form, error);
    return;
  }
  if (!available()) {
    out.replaceChildren(el("p", {}, "This browser cannot compute HMAC here (WebCrypto needs HTTPS)."));
    return;
  }
  const parts = [];
  const commitment = await sha256Hex(serverSeed);
  parts.push(line("sha256(server seed)", commitment));
  // Two separate questions: do the seeds give this result (browser against server), and are
  // they the seeds the game committed to (the published hash)? Each gets its own verdict.
  let agree = commitment === server.server_seed_hash;
  let committed = true;
  if (hash) {
    const same = hash === commitment;
    committed = same;
    parts.push(line("Published hash", el("span", { class: same ? "good-text" : "bad-text" }, same ? "matches ✓" : "does NOT match ✗")));
  }
  if (game === "spin-and-win") {
    const wheel = (await games())["spin-and-win"];
    const mine = await spinOutcome(wheel.segments.map((s) => s.weight), serverSeed, clientSeed, Number(nonce));
    const segment = wheel.segments[mine.segment];
    parts.push(line("Your browser", `segment ${mine.segment} (${segment.label}, ×${segment.multiplier}), r = ${mine.r}`));
    parts.push(line("The server", `segment ${server.segment} (${server.label}, ×${server.multiplier}), r = ${server.r}`));
    agree &&= mine.segment === server.segment && mine.r === server.r;
    const played = spinLog().find((s) => s.server_seed_hash === commitment && String(s.nonce) === nonce);
    if (played) {
      const same = played.segment === mine.segment;
      agree &&= same;
      parts.push(line("The spin you played", el("span", { class: same ? "good-text" : "bad-text" }, `landed on segment ${played.segment}: ${same ? "matches ✓" : "does NOT match ✗"}`)));
    }
  } else {
    const mine = await rouletteOutcome(serverSeed, clientSeed, nonce);
    // Chambers, pulls and seats all count from 1, as the table shows them.
    parts.push(line("Your browser", `bang on pull ${mine.bullet + 1} (chamber ${mine.bullet + 1} of 6), first shooter seat ${mine.firstShooterSeat + 1}`));
    parts.push(line("The server", `bang on pull ${server.bullet + 1} (chamber ${server.bullet + 1} of 6), first shooter seat ${server.first_shooter_seat + 1}`));
    agree &&= mine.bullet === server.bullet && mine.firstShooterSeat === server.first_shooter_seat;
    if (loadedRoom && String(loadedRoom.fairness.nonce) === nonce) parts.push(roomCheck(mine));
  }
  const verdicts = [
    el("p", { class: `verdict ${agree ? "good" : "bad"}` }, agree ? "✓ Your browser and the server agree." : "✗ The results differ."),
  ];
  if (!committed) {
    verdicts.push(el("p", { class: "verdict bad" },
      "✗ This server seed does not match the published hash: it is not the seed the game committed to before play."));
  }
  out.replaceChildren(...verdicts, ...parts.filter(Boolean));
  out.dataset.verdict = !agree ? "differ" : committed ? "agree" : "uncommitted";
}

export function initVerify() {
  $("#rotate-button").addEventListener("click", rotate);
  $("#verify-form").addEventListener("submit", verify);
  $("#verify-load-room").addEventListener("click", () => {
    const id = $("#verify-room").value.trim();
    if (/^\d+$/.test(id)) loadRoom(Number(id));
    else $("#verify-form .form-error").textContent = "Enter a table number.";
  });
}

export function showVerify(roomId) {
  showPair();
  if (roomId) loadRoom(roomId);
}
