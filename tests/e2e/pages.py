"""What the browser tests do through the page, the way a person would: by labels and roles."""

from __future__ import annotations

import itertools
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, BrowserContext, Page, expect

PASSWORD = "correct horse battery"
PHONE = (360, 780)
DESKTOP = (1280, 800)
TIMES = "\N{MULTIPLICATION SIGN}"  # written before multipliers and odds
_names = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}{next(_names)}"


async def open_client(browser: Browser, base_url: str) -> tuple[BrowserContext, Page]:
    context = await browser.new_context(
        base_url=base_url, viewport={"width": DESKTOP[0], "height": DESKTOP[1]}
    )
    context.set_default_timeout(10_000)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors  # type: ignore[attr-defined]
    await page.goto("/")
    return context, page


async def register(page: Page, username: str, date_of_birth: str = "1990-05-17") -> None:
    form = page.locator("#register-form")
    await form.get_by_label("Username", exact=True).fill(username)
    await form.get_by_label("Email", exact=True).fill(f"{username}@example.com")
    await form.get_by_label("Password", exact=True).fill(PASSWORD)
    await form.get_by_label("Date of birth").fill(date_of_birth)
    await form.get_by_role("button", name="Create account").click()


async def signed_in(page: Page, username: str) -> None:
    await expect(page.locator("#who")).to_have_text(username)
    await expect(page.locator("#conn")).to_have_text("Live")


async def go(page: Page, link: str) -> None:
    await page.get_by_role("navigation", name="Main").get_by_role("link", name=link).click()


async def wide(page: Page) -> list[str]:
    """The visible elements that stick out to the right of the viewport."""
    return list(
        await page.evaluate(
            """() => [...document.querySelectorAll("body *")]
              .filter((e) => e.getClientRects().length)
              .filter((e) => e.getBoundingClientRect().right > innerWidth + 1)
              .filter((e) => {
                for (let p = e.parentElement; p && p !== document.body; p = p.parentElement) {
                  if (getComputedStyle(p).overflowX !== "visible") return false;
                }
                return true;
              })
              .slice(0, 6)
              .map((e) => `${e.tagName}#${e.id} ${e.getBoundingClientRect().right}`)"""
        )
    )


async def shoot(page: Page, folder: Path, name: str) -> None:
    """Screenshots at phone and desktop sizes; the page must not overflow sideways on a phone."""
    for label, (width, height) in (("phone", PHONE), ("desktop", DESKTOP)):
        await page.set_viewport_size({"width": width, "height": height})
        await page.wait_for_timeout(150)
        overflow = await page.evaluate("document.documentElement.scrollWidth")
        assert overflow <= width, f"{name} overflows at {width}px: {await wide(page)}"
        await page.screenshot(path=str(folder / f"{name}-{label}.png"), full_page=True)


async def deposit(page: Page, amount: int, phone: str) -> None:
    """Ask for an M-Pesa prompt from the wallet page (the prompt is answered elsewhere)."""
    await go(page, "Wallet")
    form = page.locator("#deposit-form")
    await form.get_by_label("Amount (KES, whole shillings)").fill(str(amount))
    await form.get_by_label("M-Pesa phone").fill(phone)
    await form.get_by_role("button", name="Send payment prompt").click()
    # A phone that pays at once may already have replaced the prompt's line with the receipt.
    await expect(page.locator("#deposit-status")).to_contain_text(
        re.compile(r"Payment prompt for KES|Deposit of KES [\d,.]+ received")
    )


async def funded(page: Page, amount: int) -> None:
    """Deposit with a phone whose sandbox scenario pays at once (last digits 00)."""
    await deposit(page, amount, "0712345600")
    await expect(page.locator("#wallet-balance")).to_have_text(f"{amount:,}.00", timeout=15_000)


async def api_get(page: Page, path: str) -> dict[str, Any]:
    """GET `path` with the page's own session, from outside the page (no request of its own)."""
    token = await page.evaluate(
        "JSON.parse(sessionStorage.getItem('gamehub.session')).access_token"
    )
    answer = await page.context.request.get(path, headers={"Authorization": f"Bearer {token}"})
    assert answer.ok, await answer.text()
    body: dict[str, Any] = await answer.json()
    return body


async def server_wallet(page: Page) -> dict[str, Any]:
    return await api_get(page, "/wallet")


def shown(amount: str) -> str:
    """An amount as the page writes it: thousands separated, two decimals."""
    return f"{Decimal(amount):,.2f}"


async def wallet_page_agrees(page: Page, within_ms: int = 2_000) -> dict[str, Any]:
    """The wallet page (reached by its link, not reloaded) shows the server's balance, held and
    available, from what the user's stream told it."""
    await go(page, "Wallet")
    server = await server_wallet(page)
    for field in ("balance", "held", "available"):
        await expect(page.locator(f"#wallet-{field}")).to_have_text(
            shown(server[field]), timeout=within_ms
        )
    return server
