"""Responsible play in a real browser: a player sets a daily deposit limit and meets it, raises
it (a day later), then takes a cool-off, is signed out, logs in again and finds play closed."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser, expect

from tests.e2e.pages import PASSWORD, go, open_client, register, shoot, signed_in, unique


async def test_deposit_limit_and_a_cool_off(
    browser: Browser, base_url: str, screenshots: Path
) -> None:
    context, page = await open_client(browser, base_url)
    name = unique("careful")
    await register(page, name)
    await signed_in(page, name)

    await go(page, "Wallet")
    limits = page.locator("#limits-form")
    await limits.get_by_label("Per 24 hours (KES, empty: no limit)").fill("100")
    await limits.get_by_role("button", name="Save limits").click()
    await expect(page.locator("#limits-status")).to_have_text("Limits saved.")
    await expect(limits.get_by_label("Per 24 hours (KES, empty: no limit)")).to_have_value("100.00")

    deposit = page.locator("#deposit-form")
    await deposit.get_by_label("Amount (KES, whole shillings)").fill("200")
    await deposit.get_by_label("M-Pesa phone").fill("0712345604")
    await deposit.get_by_role("button", name="Send payment prompt").click()
    await expect(deposit.locator(".form-error")).to_have_text(
        "This deposit would take you over a deposit limit you set."
    )

    # Raising waits a day: the limit in force stays, and the page says when it changes.
    await limits.get_by_label("Per 24 hours (KES, empty: no limit)").fill("500")
    await limits.get_by_role("button", name="Save limits").click()
    await expect(page.locator("#limit-day-next")).to_contain_text("Changes to KES 500.00 on")
    for untouched in ("#limit-week-next", "#limit-month-next"):
        await expect(page.locator(untouched)).to_be_hidden()  # no limit, none asked for
    await expect(limits.get_by_label("Per 24 hours (KES, empty: no limit)")).to_have_value("100.00")
    await shoot(page, screenshots, "08-limits")

    pause = page.locator("#pause-form")
    await pause.get_by_label("Kind of break").select_option("cool_off")
    await pause.get_by_label("Days (self-exclusion: empty for permanent)").fill("2")
    page.once("dialog", lambda dialog: dialog.accept())
    await pause.get_by_role("button", name="Start the break").click()
    await expect(page.get_by_role("heading", name="Log in")).to_be_visible()

    login = page.locator("#login-form")
    await login.get_by_label("Username or email").fill(name)
    await login.get_by_label("Password", exact=True).fill(PASSWORD)
    await login.get_by_role("button", name="Log in").click()
    await signed_in(page, name)
    await go(page, "Spin")
    await page.get_by_label("Bet (KES)", exact=True).fill("20")
    await page.get_by_role("button", name="Spin", exact=True).click()
    await expect(page.locator("#spin-result")).to_have_text(
        "You are on a break from play: deposits, spins, tables and bets open again when it ends."
    )
    await go(page, "Wallet")
    await expect(page.locator("#pause-state")).to_contain_text("You are on a break until")
    assert page.errors == []  # type: ignore[attr-defined]
    await context.close()
