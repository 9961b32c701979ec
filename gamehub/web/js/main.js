// Start-up and navigation: restore the session, route by the URL hash, run the user stream.
import { api, get, signedOut } from "./api.js";
import { initAuth } from "./auth.js";
import { on } from "./bus.js";
import { describe } from "./errors.js";
import { hideLobby, initLobby, showLobby } from "./lobby.js";
import { initHistory, showHistory } from "./history.js";
import { initSpin, showSpin } from "./spin.js";
import { reset, setUser, setWallet, store } from "./store.js";
import { Stream, closeAll } from "./streams.js";
import { hideTable, initTable, showTable } from "./table.js";
import { session } from "./tokens.js";
import { $, notify } from "./ui.js";
import { initVerify, showVerify } from "./verify.js";
import { initLimits, showLimits } from "./limits.js";
import { initWallet, onTransaction, showWallet } from "./wallet.js";

const VIEWS = ["auth", "spin", "lobby", "table", "wallet", "history", "verify"];
let userStream = null;

function parseRoute() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean);
  return { name: parts[0] || "spin", args: parts.slice(1) };
}

function show(view) {
  for (const name of VIEWS) $(`#view-${name}`).hidden = name !== view;
  for (const link of document.querySelectorAll("#nav a")) {
    const current = link.dataset.view === view || (view === "table" && link.dataset.view === "lobby");
    if (current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

function route() {
  if (!store.user) {
    show("auth");
    return;
  }
  const { name, args } = parseRoute();
  if (name !== "table") hideTable();
  if (name !== "lobby") hideLobby();
  switch (name) {
    case "lobby":
      show("lobby");
      showLobby();
      break;
    case "table": {
      const id = Number(args[0]);
      if (!Number.isInteger(id) || id < 1) {
        location.hash = "#/lobby";
        return;
      }
      show("table");
      showTable(id);
      break;
    }
    case "wallet":
      show("wallet");
      showWallet();
      showLimits();
      break;
    case "history":
      show("history");
      showHistory();
      break;
    case "verify":
      show("verify");
      showVerify(args[0] === "room" ? Number(args[1]) : null);
      break;
    default:
      show("spin");
      showSpin();
  }
  document.title = `Game Hub · ${$(`#view-${VIEWS.find((v) => !$(`#view-${v}`).hidden)} h1`)?.textContent || ""}`;
}

function onUserEvent(type, data) {
  if (data.wallet) setWallet(data.wallet);
  if (type === "transaction" && data.transaction) onTransaction(data.transaction);
}

function showConnection({ overall, streams }) {
  const pill = $("#conn");
  const labels = { connected: "Live", reconnecting: "Reconnecting…", offline: "Offline" };
  pill.dataset.state = overall;
  pill.textContent = labels[overall] || overall;
  pill.title = streams.map((s) => `${s.name}: ${s.state}`).join(", ");
}

async function enter() {
  const profile = await get("/profile");
  setUser(profile);
  $("#who").textContent = profile.username;
  $("#account").hidden = false;
  $("#nav").hidden = false;
  $("#conn").hidden = false; // a connection state means something only once signed in
  get("/wallet").then(setWallet).catch(() => {});
  userStream = new Stream("account", "/events", ["snapshot", "wallet", "transaction"], onUserEvent).start();
  route();
}

function leave() {
  closeAll();
  userStream = null;
  hideTable();
  hideLobby();
  reset();
  $("#account").hidden = true;
  $("#nav").hidden = true;
  $("#conn").hidden = true;
  show("auth");
}

async function start() {
  initAuth();
  initWallet();
  initLimits();
  initSpin();
  initLobby();
  initTable();
  initHistory();
  initVerify();
  on("connection", showConnection);
  on("signed-in", () => enter().catch((error) => notify(describe(error), "error")));
  on("signed-out", leave);
  window.addEventListener("hashchange", () => {
    route();
    $("#main").focus({ preventScroll: true });
  });
  $("#logout").addEventListener("click", async () => {
    try {
      await api("POST", "/auth/logout");
    } catch {
      /* the session ends here either way */
    }
    signedOut();
    notify("You have logged out. Log in again to play.", "success", { key: "session" });
  });
  if (session()?.access_token) {
    try {
      await enter();
      return;
    } catch (error) {
      if (error.status === 401) signedOut();
      else notify(describe(error), "error");
    }
  }
  show("auth");
}

start();
