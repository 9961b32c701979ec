// The back office: sign-in with TOTP, players (search, page, suspend, adjust), money
// (approvals, the payments queue, the ledger check), the house report with its chart, the
// audit trail. Phone-first like the client; views by hash (#/players, #/money, ...).
import { newKey } from "../api.js";
import { $, busy, clearFormErrors, el, formError, money, notify, showError, when } from "../ui.js";
import { call, forgetOperator, get, operatorSession, post, saveOperator, whenSignedOut } from "./api.js";
import { drawHouseChart } from "./chart.js";

const VIEWS = ["players", "money", "reports", "audit"];
let shownPlayer = null;
let auditBefore = null;

function show(view) {
  const signedIn = Boolean(operatorSession());
  const name = signedIn ? (VIEWS.includes(view) ? view : "players") : "signin";
  for (const section of document.querySelectorAll(".view")) section.hidden = section.id !== `view-${name}`;
  $("#nav").hidden = !signedIn;
  $("#account").hidden = !signedIn;
  $("#who").textContent = operatorSession()?.username || "";
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.dataset.view === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (name === "money") loadMoney().catch(showError);
  if (name === "reports") loadReport().catch(showError);
  if (name === "audit") loadAudit(true).catch(showError);
}

const route = () => show(location.hash.replace(/^#\//, ""));

// --- sign-in ----------------------------------------------------------------------------

$("#signin-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  clearFormErrors(form);
  const body = Object.fromEntries(new FormData(form));
  await busy(form.querySelector("button"), async () => {
    try {
      const { data } = await post("/admin/login", body);
      saveOperator({ ...data, username: body.username });
      form.reset();
      location.hash = "#/players";
      route();
    } catch (error) {
      formError(form, error);
    }
  });
});

$("#signout").addEventListener("click", async (event) => {
  // The server ends the token's login first (any other copy of the token stops working too);
  // the page forgets it whatever the answer (an ended token is already signed out).
  await busy(event.currentTarget, async () => {
    try {
      await post("/admin/logout");
    } catch {
      // Offline or already ended: forgetting it here is all that is left to do.
    }
  });
  forgetOperator();
  route();
});

whenSignedOut(() => {
  notify("Your operator session ended; sign in again.", "info");
  route();
});

// --- players ----------------------------------------------------------------------------

$("#search-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const query = $("#search-query").value.trim();
  if (!query) return;
  try {
    const { users } = await get(`/admin/users?query=${encodeURIComponent(query)}`);
    const list = $("#search-results");
    list.replaceChildren(
      ...users.map((user) =>
        el("li", {},
          el("span", { class: "grow" }, el("strong", {}, user.username), ` ${user.email} ${user.phone || ""}`,
            user.suspended ? el("span", { class: "status-line", "data-suspended": "true" }, " suspended") : null),
          el("button", { type: "button", class: "small", onclick: () => openPlayer(user.id) }, `Open ${user.username}`),
        ),
      ),
    );
    if (!users.length) list.append(el("li", {}, "No player matches."));
  } catch (error) {
    showError(error);
  }
});

async function openPlayer(id) {
  const page = await get(`/admin/users/${id}`);
  shownPlayer = page;
  $("#player").hidden = false;
  $("#player-name").textContent = page.username;
  const status = $("#player-status");
  status.dataset.suspended = String(page.suspended);
  status.textContent = page.suspended
    ? `Suspended since ${when(page.suspension.suspended_at)}: ${page.suspension.reason}`
    : page.pause.paused ? `Play paused (${page.pause.pause_kind}) until ${when(page.pause.paused_until)}` : "Active";
  const facts = [
    ["Email", page.email],
    ["Phone", page.phone || "—"],
    ["Born", page.date_of_birth],
    ["Balance", `KES ${money(page.wallet.balance)}`],
    ["Held", `KES ${money(page.wallet.held)}`],
    ["Available", `KES ${money(page.wallet.available)}`],
    ...Object.entries(page.deposit_limits).map(([period, limit]) => [
      `Deposit limit (${period})`, limit.limit ? `KES ${money(limit.limit)}` : "none"]),
  ];
  $("#player-facts").replaceChildren(...facts.flatMap(([term, value]) => [el("dt", {}, term), el("dd", {}, value)]));
  $("#player-logins").replaceChildren(
    ...(page.open_logins.length
      ? page.open_logins.map((login) => el("li", {}, `since ${when(login.created_at)}`))
      : [el("li", {}, "none")]),
  );
  $("#player-transactions").replaceChildren(
    ...page.transactions.map((row) =>
      el("tr", {}, el("td", {}, row.id), el("td", {}, row.type), el("td", {}, row.status),
        el("td", {}, money(row.amount)), el("td", {}, when(row.updated_at)))),
  );
  $("#suspend-button").textContent = page.suspended ? "Reinstate" : "Suspend";
  $("#suspend-button").className = page.suspended ? "" : "danger";
}

$("#suspend-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  if (!shownPlayer) return;
  const action = shownPlayer.suspended ? "reinstate" : "suspend";
  await busy(form.querySelector("button"), async () => {
    try {
      await post(`/admin/users/${shownPlayer.id}/${action}`, { reason: $("#suspend-reason").value });
      notify(action === "suspend" ? `${shownPlayer.username} is suspended; their logins ended.` : `${shownPlayer.username} is reinstated.`);
      form.reset();
      await openPlayer(shownPlayer.id);
    } catch (error) {
      formError(form, error);
    }
  });
});

$("#adjust-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  if (!shownPlayer) return;
  const body = { user_id: shownPlayer.id, amount: $("#adjust-amount").value.trim().replace("−", "-"), reason: $("#adjust-reason").value };
  const key = newKey();
  await busy(form.querySelector("button"), async () => {
    try {
      // One key per submission: a retry after a lost answer cannot adjust twice.
      const { status, data } = await post("/admin/adjustments", body, { "Idempotency-Key": key });
      notify(status === 202
        ? `Adjustment ${data.adjustment.id} of KES ${money(data.adjustment.amount)} awaits a second operator.`
        : `Adjustment of KES ${money(data.adjustment.amount)} posted.`);
      form.reset();
      await openPlayer(shownPlayer.id);
    } catch (error) {
      formError(form, error);
    }
  });
});

// --- money ------------------------------------------------------------------------------

async function loadMoney() {
  const { adjustments } = await get("/admin/adjustments?status=awaiting_approval");
  const awaiting = $("#awaiting");
  awaiting.replaceChildren(
    ...adjustments.map((row) =>
      el("li", {},
        el("span", { class: "grow" }, `#${row.id}: KES ${money(row.amount)} for player ${row.user_id} — ${row.reason} (by operator ${row.requested_by})`),
        el("button", { type: "button", class: "small", onclick: (e) => approve(e.currentTarget, row.id) }, `Approve #${row.id}`),
        el("button", { type: "button", class: "small ghost", onclick: (e) => reject(e.currentTarget, row.id) }, `Reject #${row.id}`),
      ),
    ),
  );
  if (!adjustments.length) awaiting.append(el("li", {}, "Nothing awaits approval."));
  const { payments } = await get("/admin/payments?status=pending");
  const list = $("#payments");
  list.replaceChildren(...payments.map(paymentItem));
  if (!payments.length) list.append(el("li", {}, "No payment is stuck."));
}

async function approve(button, id) {
  await busy(button, async () => {
    try {
      await post(`/admin/adjustments/${id}/approve`);
      notify(`Adjustment ${id} approved and posted.`);
      await loadMoney();
    } catch (error) {
      showError(error);
    }
  });
}

async function reject(button, id) {
  const reason = prompt(`Why is adjustment ${id} turned down?`);
  if (!reason) return;
  await busy(button, async () => {
    try {
      await post(`/admin/adjustments/${id}/reject`, { reason });
      notify(`Adjustment ${id} turned down; nothing moved.`);
      await loadMoney();
    } catch (error) {
      showError(error);
    }
  });
}

function paymentItem(row) {
  const evidence = el("input", { "aria-label": `Evidence for payment ${row.id}`, placeholder: "Evidence (statement line, ticket)" });
  const resolve = (outcome) => async (event) => {
    await busy(event.currentTarget, async () => {
      try {
        await post(`/admin/payments/${row.id}/resolve`, { outcome, evidence: evidence.value });
        notify(`Payment ${row.id} resolved as ${outcome}.`);
        await loadMoney();
      } catch (error) {
        showError(error);
      }
    });
  };
  const query = async (event) => {
    await busy(event.currentTarget, async () => {
      try {
        const { data } = await post(`/admin/payments/${row.id}/query`);
        notify(`Payment ${row.id} is ${data.payment.status}.`);
        await loadMoney();
      } catch (error) {
        showError(error);
      }
    });
  };
  return el("li", {},
    el("span", { class: "grow" }, `${row.type} #${row.id}: KES ${money(row.amount)} for ${row.username}, since ${when(row.created_at)}`),
    evidence,
    el("button", { type: "button", class: "small ghost", onclick: query }, "Query again"),
    el("button", { type: "button", class: "small", onclick: resolve("completed") }, "Completed"),
    el("button", { type: "button", class: "small danger", onclick: resolve("failed") }, "Failed"),
  );
}

$("#ledger-check").addEventListener("click", async (event) => {
  await busy(event.currentTarget, async () => {
    try {
      const result = await get("/admin/ledger/check");
      $("#ledger-result").textContent = result.ok ? "The books balance." : `Problems: ${result.problems.join("; ")}`;
    } catch (error) {
      showError(error);
    }
  });
});

// --- reports ----------------------------------------------------------------------------

function period() {
  const today = new Date().toISOString().slice(0, 10);
  const weekAgo = new Date(Date.now() - 6 * 86400000).toISOString().slice(0, 10);
  if (!$("#report-from").value) $("#report-from").value = weekAgo;
  if (!$("#report-to").value) $("#report-to").value = today;
  return `from=${$("#report-from").value}&to=${$("#report-to").value}`;
}

async function loadReport() {
  const report = await get(`/admin/reports/house?${period()}`);
  $("#report-rows").replaceChildren(
    ...report.days.map((row) =>
      el("tr", {},
        el("td", {}, row.day), el("td", {}, row.game), el("td", {}, row.bets),
        el("td", {}, money(row.wagered)), el("td", {}, money(row.paid_out)), el("td", {}, money(row.rake)),
        el("td", {}, money(row.net)), el("td", {}, money(row.tax_withheld)), el("td", {}, row.rtp.observed ?? "—"), el("td", {}, row.rtp.theoretical ?? "—"),
        el("td", {}, row.rtp.ci95_low ? `${row.rtp.ci95_low}–${row.rtp.ci95_high}` : "—"))),
  );
  drawHouseChart($("#report-chart"), report.days);
}

$("#report-form").addEventListener("submit", (event) => {
  event.preventDefault();
  loadReport().catch(showError);
});

$("#report-csv").addEventListener("click", async () => {
  try {
    const { data } = await call("GET", `/admin/reports/house.csv?${period()}`);
    const link = el("a", { href: URL.createObjectURL(new Blob([data], { type: "text/csv" })), download: "house.csv" });
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  } catch (error) {
    showError(error);
  }
});

// --- audit ------------------------------------------------------------------------------

async function loadAudit(fresh) {
  if (fresh) auditBefore = null;
  const page = await get(`/admin/audit?limit=50${auditBefore ? `&before=${auditBefore}` : ""}`);
  const rows = page.entries.map((entry) =>
    el("tr", {}, el("td", {}, entry.id), el("td", {}, when(entry.at)), el("td", {}, entry.actor),
      el("td", {}, entry.action), el("td", {}, entry.subject),
      el("td", { class: "details" }, JSON.stringify(entry.details))));
  if (fresh) $("#audit-rows").replaceChildren(...rows);
  else $("#audit-rows").append(...rows);
  auditBefore = page.next_before;
  $("#audit-more").hidden = !auditBefore;
}

$("#audit-more").addEventListener("click", () => loadAudit(false).catch(showError));

window.addEventListener("hashchange", route);
route();
