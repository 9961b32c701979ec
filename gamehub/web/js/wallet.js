// The wallet page: balance, held and available (live from the user stream), M-Pesa deposits
// and withdrawals, and the transactions list.
import { ApiError, get, post } from "./api.js";
import { on } from "./bus.js";
import { describe } from "./errors.js";
import { failureAdvice } from "./mpesa.js";
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
  if (tx.failure_reason) status.title = tx.failure_reason; // M-Pesa's own words, for support
  return el("tr", { "data-id": tx.id },
    el("td", {}, when(tx.created_at)),
    el("td", {}, tx.type),
    el("td", {}, `KES ${money(tx.amount)}`),
    el("td", {}, status, tx.status === "failed" ? el("span", { class: "muted" }, ` — ${failureAdvice(tx)}`) : ""),
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
  // Say what it really does: by default it answers prompts by itself (auto-approve).
  try {
    const answer = await fetch("/sandbox/daraja/sandbox/api/stk?status=open", { method: "GET", cache: "no-store" });
    const mode = answer.ok ? await answer.json() : null;
    $("#sandbox-hint").hidden = !mode;
    if (mode) {
      $("#sandbox-mode").textContent = mode.manual_prompts
        ? "approve or cancel the prompt on the "
        : "no real phone is involved: the built-in M-Pesa sandbox answers prompts by itself (numbers ending 01–09 try an outcome such as cancelled or wrong PIN; others pay). Watch it on the ";
    }
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
  // Each form has one status line, replaced by the latest news of its last transaction (not a
  // new line under the old one); a notice says it too, replacing that transaction's last one.
  const slot = tx.type === "deposit" ? "#deposit-status" : "#withdraw-status";
  const key = `tx-${tx.id}`;
  if (tx.status === "completed") {
    const what = tx.type === "deposit" ? "Deposit" : "Withdrawal";
    const text = `${what} of KES ${money(tx.amount)} ${tx.type === "deposit" ? "received" : "paid"} (M-Pesa receipt ${tx.receipt || "—"}).`;
    notify(text, "success", { key });
    $(slot).textContent = text;
    $(slot).dataset.state = "completed";
  } else if (tx.status === "failed") {
    const what = tx.type === "deposit" ? "Deposit" : "Withdrawal";
    const text = `${what} of KES ${money(tx.amount)} failed. ${failureAdvice(tx)}`;
    notify(text, "error", { key });
    $(slot).textContent = text;
    $(slot).dataset.state = "failed";
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
