"""The back office in a real browser: an operator signs in with TOTP, finds a player and
suspends them (the player's open page is signed out), approves a second operator's
adjustment, and opens the house report with its chart."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser, expect
from quart import Quart

from gamehub.admin import accounts
from gamehub.runtime import EXTENSION, Runtime
from tests.admin.operators import code_now, operator, secret_of
from tests.e2e.pages import PASSWORD, open_client, register, shoot, signed_in, unique
from tests.funding import fund
from tests.helpers import bearer
from tests.helpers import register as register_by_api


async def test_an_operator_suspends_approves_and_reads_the_report(
    app: Quart, browser: Browser, base_url: str, screenshots: Path
) -> None:
    runtime: Runtime = app.extensions[EXTENSION]
    client = app.test_client()
    # Bets for the report, and a second operator who asks for a large adjustment.
    spinner = await register_by_api(client)
    await fund(runtime, spinner["user"]["id"], 100_000)
    for _ in range(5):
        spun = await client.post(
            "/games/spin-and-win/play",
            json={"bet_amount": "10.00"},
            headers=bearer(spinner["access_token"]),
        )
        assert spun.status_code == 200
    colleague = await operator(client, runtime)
    limit = runtime.settings.adjustment_approval_kes
    asked = await client.post(
        "/admin/adjustments",
        json={"user_id": spinner["user"]["id"], "amount": str(limit), "reason": "lost jackpot"},
        headers=colleague.headers,
    )
    assert asked.status_code == 202
    adjustment_id = (await asked.get_json())["adjustment"]["id"]

    # The player, signed in in their own browser.
    player_context, player_page = await open_client(browser, base_url)
    player_name = unique("suspect")
    await register(player_page, player_name)
    await signed_in(player_page, player_name)

    # The operator: an ordinary account made an operator, signing in with a TOTP code.
    staff = await register_by_api(client)
    staff_name = staff["user"]["username"]
    secret = secret_of((await accounts.make_operator(runtime.sessions, staff_name)).otpauth_uri)
    context, page = await open_client(browser, base_url)
    await page.goto("/backoffice")
    form = page.locator("#signin-form")
    await form.get_by_label("Username").fill(staff_name)
    await form.get_by_label("Password").fill(PASSWORD)
    await form.get_by_label("One-time code").fill("000000" if code_now(secret) != "000000" else "1")
    await form.get_by_role("button", name="Sign in").click()
    await expect(form.locator(".form-error")).not_to_be_empty()
    await shoot(page, screenshots, "20-backoffice-signin")
    await form.get_by_label("One-time code").fill(code_now(secret))
    await form.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Players")).to_be_visible()
    await expect(page.locator("#who")).to_have_text(staff_name)

    # Find the player by a fragment of their name, open them, suspend them.
    await page.get_by_label("Username, email or phone").fill(player_name[2:])
    await page.get_by_role("button", name="Search").click()
    await page.get_by_role("button", name=f"Open {player_name}").click()
    await expect(page.locator("#player-name")).to_have_text(player_name)
    await expect(page.locator("#player-status")).to_have_text("Active")
    await page.get_by_label("Reason", exact=True).fill("fraud report, ticket 881")
    await page.get_by_role("button", name="Suspend").click()
    await expect(page.locator("#player-status")).to_contain_text("Suspended since", timeout=5_000)
    await expect(page.locator("#player-status")).to_contain_text("fraud report, ticket 881")
    await shoot(page, screenshots, "21-backoffice-player")

    # The player's open page is signed out: the server closes its stream, and the page's
    # reconnection finds the login ended (if it had not noticed yet, its next request would).
    await expect(player_page.get_by_role("heading", name="Log in")).to_be_visible(timeout=10_000)
    login = player_page.locator("#login-form")
    await login.get_by_label("Username or email").fill(player_name)
    await login.get_by_label("Password", exact=True).fill(PASSWORD)
    await login.get_by_role("button", name="Log in").click()
    await expect(login.locator(".form-error")).to_contain_text("suspended")

    # Approve the colleague's adjustment (four eyes).
    await (
        page.get_by_role("navigation", name="Back office").get_by_role("link", name="Money").click()
    )
    await page.get_by_role("button", name=f"Approve #{adjustment_id}").click()
    await expect(page.locator("#awaiting")).to_have_text("Nothing awaits approval.")
    await shoot(page, screenshots, "22-backoffice-money")
    posted = await client.get("/admin/adjustments?status=posted", headers=colleague.headers)
    [approved] = (await posted.get_json())["adjustments"]
    assert (approved["id"], approved["approved_by"]) == (adjustment_id, staff["user"]["id"])

    # The house report, with its chart.
    await (
        page.get_by_role("navigation", name="Back office")
        .get_by_role("link", name="Reports")
        .click()
    )
    await expect(page.locator("#report-rows tr")).to_have_count(1)
    await expect(page.locator("#report-rows tr td").nth(1)).to_have_text("spin-and-win")
    await expect(page.locator("#report-chart rect.bar.spin")).to_have_count(1)
    await shoot(page, screenshots, "23-backoffice-report")

    # Signing out ends the token on the server, not only in the page.
    token = await page.evaluate(
        "JSON.parse(sessionStorage.getItem('gamehub.operator')).access_token"
    )
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.locator("#signin-form")).to_be_visible()
    ended = await client.get("/admin/users?query=a", headers=bearer(token))
    assert ended.status_code == 401
    assert page.errors == []  # type: ignore[attr-defined]
    await context.close()
    await player_context.close()
