"""The sandbox's phone: a plain page that lists open STK prompts with Approve / Cancel buttons."""

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
</style>
</head>
<body>
<h1>M-Pesa sandbox phone</h1>
<p class="muted">Open payment prompts appear here. Approve pays, Cancel declines (1032).
Prompts wait here when the sandbox runs with manual prompts; otherwise they settle on their own
after a moment, by the phone number's scenario.</p>
<div id="prompts"><p class="muted">Loading…</p></div>
<script>
"use strict";
const list = document.getElementById("prompts");

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

async function refresh() {
  try {
    const answer = await fetch("api/stk?status=open", {cache: "no-store"});
    const data = await answer.json();
    list.replaceChildren(...data.prompts.map(card));
    if (!data.prompts.length) {
      const none = document.createElement("p");
      none.className = "muted";
      none.textContent = "No open prompts.";
      list.append(none);
    }
  } catch (error) {
    list.textContent = "The sandbox is not answering: " + error;
  }
}

refresh();
setInterval(refresh, 1000);
</script>
</body>
</html>
"""
