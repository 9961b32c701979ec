// The wallet page: balance, held and available (live from the user stream), M-Pesa deposits
// and withdrawals, and the transactions list.
import { ApiError, get, post } from "./api.js";
import { on } from "./bus.js";
import { describe } from "./errors.js";
import { refreshWallet, store } from "./store.js";
import { $, busy, clearFormErrors, el, formError, money, notify, when } from "./ui.js";

const rows = new Map(); // transaction id -> transaction
let nextBefore = null;
let sandboxChecked = false;

function showBalances(wallet) {
  if (!wallet) return;
  $("#wallet-balance").textContent = money(wallet.balance);
  $("#wallet-held").textContent = money(wallet.held);
  $("#wallet-available").textContent = money(wallet.available);
  $("#badge-available").textContent = money(wallet.available);
}

function row(tx) {
  const status = el("span", { class: `status-${tx.status}` }, tx.status);
  if (tx.failure_reason) status.title = tx.failure_reason;
  return el("tr", { "data-id": tx.id },
    el("td", {}, when(tx.created_at)),
    el("td", {}, tx.type),
    el("td", {}, `KES ${money(tx.amount)}`),
    el("td", {}, status, tx.failure_reason ? el("span", { class: "muted" }, ` (${tx.failure_reason})`) : ""),
    el("td", {}, tx.receipt || "—"));
}

function renderTransactions() {
  const body = $("#tx-table tbody");
  const sorted = [...rows.values()].sort((a, b) => b.id - a.id);
  body.replaceChildren(...(sorted.length ? sorted.map(row)
    : [el("tr", {}, el("td", { colspan: 5, class: "empty" }, "No deposits or withdrawals yet."))]));
  $("#tx-more").hidden = nextBefore === null;
}

async function loadTransactions(more = false) {
  try {
    const page = await get("/transactions", { limit: 20, before: more ? nextBefore : undefined });
    if (!more) rows.clear();
    for (const tx of page.transactions) rows.set(tx.id, tx);
    nextBefore = page.next_before ?? null;
    renderTransactions();
  } catch (error) {
    notify(describe(error), "error");
  }
}

async function checkSandbox() {
  // The embedded default runs an M-Pesa emulator with a phone page for approving prompts.
  if (sandboxChecked) return;
  sandboxChecked = true;
  try {
    const answer = await fetch("/sandbox/phone", { method: "GET", cache: "no-store" });
    $("#sandbox-hint").hidden = !answer.ok;
  } catch {
    $("#sandbox-hint").hidden = true;
  }
}

function wholeShillings(text) {
  const value = String(text).trim();
  return /^\d{1,7}$/.test(value) ? Number(value) : null;
}

function local(form, field, message) {
  return new ApiError(422, "validation_error", message, { fields: [{ field, message }] });
}

export function onTransaction(tx) {
  const before = rows.get(tx.id);
  rows.set(tx.id, tx);
  renderTransactions();
  if (before && before.status === tx.status) return;
  if (tx.status === "completed") {
    const what = tx.type === "deposit" ? "Deposit" : "Withdrawal";
    notify(`${what} of KES ${money(tx.amount)} completed (M-Pesa receipt ${tx.receipt || "—"}).`, "success");
    if (tx.type === "deposit") $("#deposit-status").textContent = `Deposit of KES ${money(tx.amount)} received.`;
  } else if (tx.status === "failed") {
    const what = tx.type === "deposit" ? "Deposit" : "Withdrawal";
    notify(`${what} of KES ${money(tx.amount)} failed${tx.failure_reason ? `: ${tx.failure_reason}` : ""}.`, "error");
    const slot = tx.type === "deposit" ? "#deposit-status" : "#withdraw-status";
    $(slot).textContent = `Failed${tx.failure_reason ? `: ${tx.failure_reason}` : ""}.`;
  }
}

export function initWallet() {
  on("wallet", showBalances);
  on("user", (user) => {
    if (user?.phone) {
      $("#deposit-phone").value ||= user.phone;
    }
  });

  const deposit = $("#deposit-form");
  deposit.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFormErrors(deposit);
    const amount = wholeShillings(deposit.amount.value);
    if (amount === null || amount < 1) {
      formError(deposit, local(deposit, "amount", "Enter whole shillings, 1 or more."));
      return;
    }
    const phone = deposit.phone.value.trim();
    if (!phone) {
      formError(deposit, local(deposit, "phone", "Enter the M-Pesa phone number."));
      return;
    }
    try {
      const { transaction } = await busy(deposit.querySelector("button[type=submit]"),
        () => post("/deposit", { amount, phone }, { idempotent: true }));
      onTransaction(transaction);
      $("#deposit-status").textContent =
        `Payment prompt for KES ${money(transaction.amount)} sent to ${transaction.phone}. Approve it on the phone.`;
      checkSandbox();
    } catch (error) {
      formError(deposit, error);
    }
  });

  const withdraw = $("#withdraw-form");
  withdraw.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFormErrors(withdraw);
    const amount = wholeShillings(withdraw.amount.value);
    if (amount === null || amount < 10) {
      formError(withdraw, local(withdraw, "amount", "Enter whole shillings, 10 or more."));
      return;
    }
    const body = { amount };
    const phone = withdraw.phone.value.trim();
    if (phone) body.phone = phone;
    try {
      const { transaction } = await busy(withdraw.querySelector("button[type=submit]"),
        () => post("/withdraw", body, { idempotent: true }));
      onTransaction(transaction);
      $("#withdraw-status").textContent =
        `KES ${money(transaction.amount)} is on its way to ${transaction.phone}.`;
      refreshWallet().catch(() => {});
    } catch (error) {
      formError(withdraw, error);
    }
  });

  $("#tx-more").addEventListener("click", () => loadTransactions(true));
}

export function showWallet() {
  showBalances(store.wallet);
  loadTransactions();
  checkSandbox();
}
