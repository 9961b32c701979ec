"""Russian Roulette in three browsers: two players find each other through the live lobby and
play a whole match, each seeing the other's moves live against the turn countdown; a third
person watches and wins one side bet and loses another at the odds the page showed; a player
reloads mid-match and the live view resumes; when the match ends, all three wallet pages show
the server's balance, held and available without a reload or a request of their own (the user
stream told them); the spectator then verifies the match in the page."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, Page, Request, expect

from tests.e2e.pages import (
    PHONE,
    TIMES,
    api_get,
    funded,
    go,
    open_client,
    register,
    shoot,
    shown,
    signed_in,
    unique,
    wallet_page_agrees,
)


def duration(seconds: int) -> str:
    return (
        f"{seconds // 60} minutes" if seconds >= 120 and seconds % 60 == 0 else f"{seconds} seconds"
    )


def rule_sentences(rules: dict[str, Any]) -> list[str]:
    """What the rules panel must say, from the catalogue's figures."""
    return [
        f"Stake: KES {rules['min_bet']} to {shown(rules['max_bet'])}.",
        f"less a {rules['rake_percent']}% rake",
        f"Each turn lasts {duration(rules['turn_timeout_s'])}. If it runs out, the trigger is "
        "pulled for you automatically.",
        f"If no opponent joins within {duration(rules['waiting_timeout_s'])}, the table closes "
        "and your stake comes back.",
        f"KES {rules['side_bet_min']} to {shown(rules['side_bet_max'])} on the next pull",
        f"with a {rules['side_bet_edge_percent']}% house edge",
    ]


async def player_to_shoot(players: list[Page]) -> Page | None:
    """The page whose Pull button is enabled, or None once the match is over."""
    for _ in range(200):
        for page in players:
            button = page.locator("#pull-button")
            if await button.is_visible() and await button.is_enabled():
                return page
        if "won the match" in (await players[0].locator("#table-banner").text_content() or ""):
            return None
        await asyncio.sleep(0.05)
    raise AssertionError("nobody got the turn")


async def test_two_players_and_a_spectator_play_a_match(
    browser: Browser, base_url: str, screenshots: Path
) -> None:
    people = []
    for prefix in ("alice", "bob", "carol"):
        context, page = await open_client(browser, base_url)
        name = unique(prefix)
        await register(page, name)
        await signed_in(page, name)
        await funded(page, 200)
        people.append((context, page, name))
    (_, alice, alice_name), (_, bob, _), (_, carol, _) = people

    # Alice opens a table; Bob sees it appear in his live lobby and joins it. The lobby states
    # the rules and limits the server has (GET /games), in a player's words.
    await go(bob, "Tables")
    await expect(bob.locator("#lobby-conn")).to_have_text("live")
    catalogue = await api_get(bob, "/games")
    rules = next(g for g in catalogue["games"] if g["slug"] == "russian-roulette")
    for sentence in rule_sentences(rules):
        await expect(bob.locator("#lobby-rules")).to_contain_text(sentence)
    await expect(bob.locator("#join-hint")).to_contain_text(
        f"KES {rules['min_bet']} to {shown(rules['max_bet'])}"
    )
    await go(alice, "Tables")
    await alice.get_by_label("Stake (KES)").fill("50")
    await alice.get_by_role("button", name="Join or open a table").click()
    await expect(alice).to_have_url(re.compile(r"#/table/\d+$"))
    room_id = int(alice.url.rsplit("/", 1)[1])
    await expect(alice.locator("#turn-text")).to_have_text("Waiting for an opponent…")
    await expect(alice.locator("#badge-available")).to_have_text("150.00")
    join = bob.get_by_role("button", name=f"Join table {room_id} for KES 50.00")
    await expect(join).to_be_visible()
    await shoot(bob, screenshots, "06-lobby")
    await join.click()
    await expect(bob.locator("#table-title")).to_have_text(f"Table #{room_id}")
    for page in (alice, bob):
        await expect(page.locator("#table-meta")).to_contain_text("playing")
        await expect(page.locator("#table-rules")).to_contain_text(rule_sentences(rules)[2])

    # Carol watches from the lobby and bets on the first pull at the odds the page shows.
    await go(carol, "Tables")
    await carol.get_by_role("link", name=f"Watch table {room_id}").click()
    await expect(carol.locator("#table-meta")).to_contain_text("watching")
    await expect(carol.get_by_role("button", name="Pull the trigger")).to_be_hidden()
    await carol.get_by_label("Side bet (KES)").fill("10")
    survival = carol.locator("#bet-survival")
    await expect(survival).to_contain_text(f"{TIMES}1.1400 · pays 11.40")
    await expect(carol.locator("#bet-elimination")).to_contain_text(f"{TIMES}5.7000 · pays 57.00")
    async with carol.expect_response("**/games/place-bet") as answer:
        await survival.click()
    placed = await (await answer.value).json()
    assert placed["odds"] == "1.1400" and placed["potential_payout"] == "11.40"
    assert placed["pull_number"] == 1
    await expect(carol.locator("#my-bets")).to_contain_text("Pull 1: survival KES 10.00")
    await expect(carol.locator("#badge-available")).to_have_text("190.00")
    # And against it on the same pull: one of the two wins, the other loses.
    await carol.locator("#bet-elimination").click()
    await expect(carol.locator("#my-bets")).to_contain_text("Pull 1: elimination KES 10.00")
    await expect(carol.locator("#badge-available")).to_have_text("180.00")
    for page in (alice, bob):  # the players see the spectator's bets live
        await expect(page.locator("#room-log")).to_contain_text("bet KES 10.00 on survival")
        await expect(page.locator("#room-log")).to_contain_text("bet KES 10.00 on elimination")

    # Bob reloads mid-match: the page comes back to the live table with its history.
    await bob.reload()
    await expect(bob.locator("#table-title")).to_have_text(f"Table #{room_id}")
    await expect(bob.locator("#table-conn")).to_have_text("live")
    await expect(bob.locator("#room-log")).to_contain_text("Match started")
    await expect(bob.locator("#room-log")).to_contain_text("bet KES 10.00 on survival")
    await expect(bob.locator("#seats")).to_contain_text(alice_name)

    # Whoever's turn it is pulls, with the countdown running; the other sees it live.
    pulls = 0
    while (shooter := await player_to_shoot([alice, bob])) is not None:
        other = bob if shooter is alice else alice
        await expect(shooter.locator("#turn-text")).to_have_text("Your turn: pull the trigger")
        await expect(shooter.locator("#countdown")).to_be_visible()
        seconds = int(await shooter.locator("#countdown-seconds").inner_text())
        assert 0 < seconds <= 20
        await expect(other.get_by_role("button", name="Pull the trigger")).to_be_disabled()
        if pulls == 0:
            # On a phone, an error notice during the turn floats over the page: the revolver
            # and the countdown stay where they were, on screen.
            await shooter.set_viewport_size({"width": PHONE[0], "height": PHONE[1]})
            where = (
                "(e) => [e.getBoundingClientRect().top + scrollY, e.getBoundingClientRect().height]"
            )
            before = await shooter.locator("#countdown").evaluate(where)
            await shooter.get_by_label("Side bet (KES)").fill("ten")
            await shooter.locator("#bet-survival").click()
            await expect(shooter.locator("#notices")).to_contain_text("Enter a bet in KES")
            assert await shooter.locator("#countdown").evaluate(where) == before
            # The turn's essentials fit the phone's first screen: seats, revolver, countdown.
            assert before[0] + before[1] <= PHONE[1], before
            await shooter.evaluate("scrollTo(0, 0)")
            await shoot(shooter, screenshots, "07-table-your-turn-with-notice")
            await shooter.get_by_label("Side bet (KES)").fill("10")
            await shoot(carol, screenshots, "08-table-spectator")
        await shooter.get_by_role("button", name="Pull the trigger").click()
        pulls += 1
        await expect(other.locator("#room-log")).to_contain_text(f"Pull {pulls}: ")
        assert pulls <= 6

    # The match is over everywhere; the winner has the pot less the 5 % rake.
    wallet_requests = {page: 0 for page in (alice, bob, carol)}
    for page in (alice, bob, carol):
        await expect(page.locator("#table-banner")).to_contain_text("won the match")

        def count(request: Request, page: Page = page) -> None:
            if request.url.endswith("/wallet"):
                wallet_requests[page] += 1

        page.on("request", count)
    winner = alice if "You won" in (await alice.locator("#table-banner").inner_text()) else bob
    loser = bob if winner is alice else alice
    await expect(winner.locator("#table-banner")).to_contain_text("You won the match!")
    await expect(loser.locator("#table-banner")).to_contain_text("You lost.")
    await expect(winner.locator("#badge-available")).to_have_text("245.00")
    await expect(loser.locator("#badge-available")).to_have_text("150.00")

    # Carol's bets on pull 1 settled: survival won if pull 1 clicked, elimination if it fired.
    first_clicked = pulls > 1
    bets = carol.locator("#my-bets")
    # A won bet says what it gained, not only what it paid.
    await expect(bets).to_contain_text("lost KES 10.00")
    if first_clicked:
        await expect(bets).to_contain_text("won, +KES 1.40 profit (paid 11.40)")
        await expect(carol.locator("#badge-available")).to_have_text("191.40")
    else:
        await expect(bets).to_contain_text("won, +KES 47.00 profit (paid 57.00)")
        await expect(carol.locator("#badge-available")).to_have_text("237.00")
    await shoot(loser, screenshots, "09-table-finished")

    # Every wallet page agrees with the server, from the stream alone: nothing is held any more.
    for page in (winner, loser, carol):
        assert (await wallet_page_agrees(page))["held"] == "0.00"
    assert wallet_requests == {alice: 0, bob: 0, carol: 0}
    await carol.go_back()  # to the finished table, where its verification link is

    # What next: back to the tables, or another match at the same stake, at once.
    await winner.go_back()
    await expect(winner.get_by_role("link", name="Back to tables")).to_be_visible()
    await winner.get_by_role("button", name="Play again (KES 50.00)").click()
    await expect(winner).not_to_have_url(re.compile(rf"#/table/{room_id}$"))
    await expect(winner.locator("#turn-text")).to_have_text("Waiting for an opponent…")

    # Verify the match from the revealed seed, in Carol's page.
    await carol.get_by_role("link", name="Verify this match").click()
    await expect(carol.get_by_label("Server seed (revealed)")).to_have_value(
        re.compile(r"^[0-9a-f]{64}$")
    )
    await carol.locator("#verify-form").get_by_role("button", name="Verify").click()
    result = carol.locator("#verify-result")
    await expect(result).to_contain_text("Your browser and the server agree.")
    # Chambers and pulls count alike, from 1.
    await expect(result).to_contain_text(f"bang on pull {pulls} (chamber {pulls} of 6)")
    await expect(result).to_contain_text("matches the result ✓")
    await shoot(carol, screenshots, "10-verify-match")
    # A tampered published hash is named as such; the results themselves still agree.
    await carol.get_by_label("Published server seed hash (optional)").fill("0" * 64)
    await carol.locator("#verify-form").get_by_role("button", name="Verify").click()
    await expect(result).to_contain_text("does not match the published hash")
    await expect(result).to_contain_text("Your browser and the server agree.")
    await expect(result).not_to_contain_text("The results differ.")

    for context, page, _ in people:
        assert page.errors == []  # type: ignore[attr-defined]
        await context.close()
