"""The sandbox's phone: a plain page that says whether prompts settle by themselves or wait for
it, lists open STK prompts with Approve / Cancel buttons, and the latest prompts' outcomes."""

from __future__ import annotations

# Relative URLs so the page works wherever the sandbox is mounted (".../sandbox/phone").
PHONE_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>M-Pesa sandbox phone</title>
<style>
  body { font-family: system-ui, sans-serif; max-width: 36rem; margin: 2rem auto; padding: 0 1rem; }
  .prompt { border: 1px solid #9a9; border-radius: .5rem; padding: 1rem; margin: 1rem 0; }
  .prompt h2 { margin: 0 0 .5rem; font-size: 1.1rem; }
  button { font-size: 1rem; padding: .4rem 1rem; margin-right: .5rem; cursor: pointer; }
  .approve { background: #2e7d32; color: #fff; border: 0; border-radius: .3rem; }
  .cancel { background: #eee; border: 1px solid #999; border-radius: .3rem; }
  .muted { color: #666; }
  .mode { border-left: 4px solid #c90; padding: .5rem .8rem; background: #fff8e1; }
  code { background: #eee; padding: 0 .2rem; border-radius: .2rem; }
  ul { padding-left: 1.2rem; }
</style>
</head>
<body>
<h1>M-Pesa sandbox phone</h1>
<p id="mode" class="mode">Loading…</p>
<h2>Open prompts</h2>
<div id="prompts"><p class="muted">Loading…</p></div>
<h2>Latest prompts</h2>
<ul id="recent"><li class="muted">None yet.</li></ul>
<script>
"use strict";
const list = document.getElementById("prompts");
const AUTO = "Auto-approve: this sandbox answers every prompt by itself within a second, as " +
  "the phone number's last two digits say (00-09 pick an outcome: 01 cancelled, 02 not enough " +
  "money, 03 wrong PIN, 06 unreachable, 07 slow...; any other number pays). Nothing waits for " +
  "this page. To approve or cancel prompts here by hand, run the sandbox on its own with " +
  "manual prompts (gamehub daraja-sandbox --manual-prompts) and point the app at it " +
  "(GAMEHUB_MPESA_BASE_URL).";
const MANUAL = "Manual prompts: a prompt to a number whose last two digits are not 00-09 " +
  "waits here until you press Approve (pays) or Cancel (declines, 1032), or for 60 s " +
  "(unreachable, 1037). Scenario numbers still answer by themselves.";

function card(prompt) {
  const box = document.createElement("div");
  box.className = "prompt";
  const title = document.createElement("h2");
  title.textContent = "Pay KES " + prompt.amount + " to " + prompt.business_shortcode;
  const detail = document.createElement("p");
  detail.textContent = "Phone " + prompt.phone + " · account " + prompt.account_reference +
    " · " + prompt.description;
  box.append(title, detail);
  for (const [label, action] of [["Approve", "approve"], ["Cancel", "cancel"]]) {
    const button = document.createElement("button");
    button.className = action;
    button.textContent = label;
    button.onclick = async () => {
      button.disabled = true;
      await fetch("api/stk/" + encodeURIComponent(prompt.checkout_request_id) + "/" + action,
                  {method: "POST"});
      refresh();
    };
    box.append(button);
  }
  return box;
}

function outcome(prompt) {
  const item = document.createElement("li");
  const result = prompt.status === "open" ? "waiting" : prompt.status +
    (prompt.result_desc ? ": " + prompt.result_desc + " (" + prompt.result_code + ")" : "");
  item.textContent = prompt.created_at.slice(11, 19) + " · KES " + prompt.amount + " from " +
    prompt.phone + " · " + result;
  return item;
}

let delay = 1000;
async function refresh() {
  try {
    const answer = await fetch("api/stk", {cache: "no-store"});
    const data = await answer.json();
    document.getElementById("mode").textContent = data.manual_prompts ? MANUAL : AUTO;
    const open = data.prompts.filter((p) => p.status === "open");
    const recent = data.prompts.slice(-8).reverse();
    if (recent.length) document.getElementById("recent").replaceChildren(...recent.map(outcome));
    // Quick while something is open, slow while nothing happens.
    delay = open.length ? 1000 : 4000;
    list.replaceChildren(...open.map(card));
    if (!open.length) {
      const none = document.createElement("p");
      none.className = "muted";
      none.textContent = "No open prompts.";
      list.append(none);
    }
  } catch (error) {
    list.textContent = "The sandbox is not answering: " + error;
  }
}

async function loop() {
  if (!document.hidden) await refresh();
  setTimeout(loop, delay);
}
loop();
</script>
</body>
</html>
"""
