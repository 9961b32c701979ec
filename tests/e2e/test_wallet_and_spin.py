"""A new player in a real browser: registers (an underage date of birth with another mistake is
refused field by field first), deposits through M-Pesa by approving the prompt on the sandbox's
phone page (which says it answers prompts by itself), sees a failed deposit in a player's words,
withdraws, spins the wheel and sees the result and the new balance only when it lands, finds the
spin in the history and verifies it from the revealed server seed, then logs out."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, expect

from tests.e2e.pages import TIMES, go, open_client, register, shoot, signed_in, unique


def cents(text: str) -> int:
    whole, _, fraction = text.replace(",", "").partition(".")
    return int(whole) * 100 + int(fraction or 0)


async def test_register_deposit_withdraw_spin_and_verify(
    browser: Browser, base_url: str, screenshots: Path
) -> None:
    context, page = await open_client(browser, base_url)
    await expect(page.get_by_role("heading", name="Create an account")).to_be_visible()
    await expect(page.locator("#conn")).to_be_hidden()  # no "Offline" before there is a login
    await shoot(page, screenshots, "01-sign-in")

    name = unique("newbie")
    seventeen = dt.date.today().replace(year=dt.date.today().year - 17)
    await register(page, name, date_of_birth=seventeen.isoformat())
    form = page.locator("#register-form")
    await expect(form.locator('[data-for="date_of_birth"]')).to_have_text(
        "You must be 18 or older to play."
    )
    # With another mistake too, each field says its own: only the date speaks of age.
    await form.get_by_label("Email", exact=True).fill("not-an-email")
    await form.get_by_role("button", name="Create account").click()
    await expect(form.locator('[data-for="email"]')).to_have_text(
        "Enter an email address like name@example.com."
    )
    await expect(form.locator('[data-for="date_of_birth"]')).to_have_text(
        "You must be 18 or older to play."
    )
    await expect(form).not_to_contain_text("YYYY-MM-DD")
    assert await form.get_by_text("18 or older to play.").count() == 1
    await shoot(page, screenshots, "01-sign-up-errors")
    await register(page, name)
    await signed_in(page, name)

    # No money yet: the spin is refused with the friendly text for insufficient_funds.
    await page.get_by_label("Bet (KES)", exact=True).fill("20")
    await page.get_by_role("button", name="Spin", exact=True).click()
    await expect(page.locator("#spin-result")).to_have_text(
        "Not enough available balance for that. Deposit or lower the amount."
    )

    # Deposit: scenario 07 keeps the prompt open for 30 s; approve it on the sandbox phone.
    await go(page, "Wallet")
    form = page.locator("#deposit-form")
    await form.get_by_label("Amount (KES, whole shillings)").fill("500")
    await form.get_by_label("M-Pesa phone").fill("0712345607")
    await form.get_by_role("button", name="Send payment prompt").click()
    await expect(page.locator("#deposit-status")).to_contain_text("Approve it on the phone")
    await expect(page.locator("#tx-table tbody")).to_contain_text("pending")
    async with context.expect_page() as opened:
        await page.get_by_role("link", name="sandbox phone").click()
    phone = await opened.value
    await expect(phone.locator("#mode")).to_contain_text("Auto-approve")
    await expect(phone.locator("#mode")).to_contain_text("--manual-prompts")
    await expect(phone.get_by_text("Pay KES 500")).to_be_visible()
    await shoot(phone, screenshots, "02-sandbox-phone")
    await phone.get_by_role("button", name="Approve").click()
    await phone.close()
    # The user stream brings the completed deposit and the new balance without a reload.
    await expect(page.locator("#wallet-balance")).to_have_text("500.00", timeout=15_000)
    await expect(page.locator("#tx-table tbody")).to_contain_text("completed")
    await expect(page.locator("#badge-available")).to_have_text("500.00")
    await expect(page.locator("#sandbox-hint")).to_contain_text("answers prompts by itself")

    # A wrong PIN (scenario 03): what to do, in a player's words, replacing the prompt's line.
    await form.get_by_label("M-Pesa phone").fill("0712345603")
    await form.get_by_role("button", name="Send payment prompt").click()
    await expect(page.locator("#deposit-status")).to_have_text(
        "Deposit of KES 500.00 failed. The M-Pesa PIN was wrong. Nothing was charged; send a new "
        "prompt and enter your PIN carefully."
    )
    await expect(page.locator("#tx-table tbody")).to_contain_text("The M-Pesa PIN was wrong.")
    await expect(page.locator("#tx-table tbody")).not_to_contain_text("initiator")
    # Withdraw 100: held at once, then paid (B2C) and gone from the balance.
    withdraw = page.locator("#withdraw-form")
    await withdraw.get_by_label("Amount (KES, whole shillings, at least 10)").fill("100")
    await withdraw.get_by_label("M-Pesa phone").fill("0712345600")
    await withdraw.get_by_role("button", name="Withdraw").click()
    await expect(page.locator("#withdraw-status")).to_contain_text("on its way to 254712345600")
    await expect(page.locator("#wallet-balance")).to_have_text("400.00", timeout=15_000)
    await expect(page.locator("#wallet-held")).to_have_text("0.00")
    await shoot(page, screenshots, "02-wallet")

    # Spin: the wheel comes to rest on the segment the server returned; the balance follows, and
    # not before (the stream's wallet event comes while the wheel still turns).
    await go(page, "Spin")
    await page.get_by_label("Bet (KES)", exact=True).fill("20")
    await page.evaluate(
        """() => {
          window.badgeChanges = [];
          const wheel = document.querySelector("#wheel");
          const log = () => window.badgeChanges.push([
            wheel.dataset.state, document.querySelector("#spin-result").textContent]);
          new MutationObserver(log).observe(document.querySelector("#badge-available"),
            { childList: true, characterData: true, subtree: true });
        }"""
    )
    async with page.expect_response("**/games/spin-and-win/play") as answer:
        await page.get_by_role("button", name="Spin", exact=True).click()
    response = await answer.value
    played: dict[str, Any] = await response.json()
    assert response.status == 200, played
    await expect(page.locator("#wheel")).to_have_attribute("data-state", "idle", timeout=8_000)
    await expect(page.locator("#wheel")).to_have_attribute("data-pointer", str(played["segment"]))
    await expect(page.locator("#spin-result")).to_contain_text(f"{TIMES}{played['multiplier']}")
    assert cents(played["new_balance"]) == 40_000 - 2_000 + cents(played["win_amount"])
    await expect(page.locator("#badge-available")).to_have_text(played["new_balance"])
    changes = await page.evaluate("window.badgeChanges")
    assert changes and all(state == "idle" and TIMES in text for state, text in changes), changes
    await shoot(page, screenshots, "03-spin")

    # History: the spin is listed, the chart is drawn, the stats count it.
    await go(page, "History")
    await expect(page.locator("#bets-table tbody")).to_contain_text("Spin and Win")
    await expect(page.locator("#stats")).to_contain_text("Wagered")
    await expect(page.locator("#net-chart path.line")).to_have_count(1)
    await shoot(page, screenshots, "04-history")

    # Verify: reveal the server seed, then the browser's HMAC and /fairness/verify agree.
    await go(page, "Verify")
    await page.get_by_role("button", name="Reveal server seed").click()
    await expect(page.get_by_label("Server seed (revealed)")).to_have_value(
        re.compile(r"^[0-9a-f]{64}$")
    )
    await expect(page.get_by_label("Nonce", exact=True)).to_have_value(
        str(played["fairness"]["nonce"])
    )
    await page.locator("#verify-form").get_by_role("button", name="Verify").click()
    result = page.locator("#verify-result")
    await expect(result).to_contain_text("Your browser and the server agree.")
    await expect(result).to_contain_text(f"segment {played['segment']}")
    await expect(result).to_contain_text("matches ✓")
    await shoot(page, screenshots, "05-verify-spin")

    # Logging out says so, and the connection pill goes with the login.
    await page.get_by_role("button", name="Log out").click()
    await expect(page.locator("#notices")).to_contain_text("You have logged out.")
    await expect(page.locator("#conn")).to_be_hidden()
    await expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    assert page.errors == []  # type: ignore[attr-defined]
    await context.close()
