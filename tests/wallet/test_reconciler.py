"""The reconciler on its own: open prompts are left alone, pushes that never got an id fail,
concurrent passes (as on several instances) claim each payment once, and it runs by itself."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import update

from gamehub.db import transaction, utcnow
from gamehub.models import Transaction
from gamehub.wallet import reconciler
from gamehub.wallet.reconciler import Reconciler, reconcile_once
from tests.wallet.conftest import Live, new_player
from tests.wallet.flows import phone, post, settled, transaction_of, wallet


async def test_an_open_prompt_is_left_pending(live: Live) -> None:
    player = await new_player(live)
    response = await post(live, player, "/deposit", {"amount": 100, "phone": phone("07")})
    started = response.json()["transaction"]
    assert await reconcile_once(live.rt, older_than_s=0) == 1  # STK query: still in progress
    assert (await transaction_of(live, player, started["id"]))["status"] == "pending"
    assert (await settled(live, player, started["id"]))["status"] == "completed"


async def test_a_push_that_never_got_an_id_fails(live: Live) -> None:
    player = await new_player(live)
    response = await post(live, player, "/deposit", {"amount": 100, "phone": phone("04")})
    started = response.json()["transaction"]
    long_ago = utcnow() - reconciler.PUSH_ABANDONED - timedelta(seconds=1)
    async with transaction(live.rt.sessions) as session:
        await session.execute(
            update(Transaction)
            .where(Transaction.id == started["id"])
            .values(provider_ref=None, created_at=long_ago, updated_at=long_ago)
        )
    assert await reconcile_once(live.rt, older_than_s=0) == 1
    done = await transaction_of(live, player, started["id"])
    assert done["status"] == "failed" and "never confirmed" in done["failure_reason"]
    assert (await wallet(live, player))["balance"] == "0.00"


async def test_concurrent_passes_claim_each_payment_once(live: Live) -> None:
    player = await new_player(live)
    ids = []
    for _ in range(5):
        response = await post(live, player, "/deposit", {"amount": 100, "phone": phone("04")})
        ids.append(response.json()["transaction"]["id"])
    prompts = live.sandbox.state.prompts
    while any(p.status == "open" for p in prompts.values()):
        await asyncio.sleep(0.02)
    looked = await asyncio.gather(*(reconcile_once(live.rt, older_than_s=0) for _ in range(4)))
    assert sum(looked) == 5
    for transaction_id in ids:
        assert (await transaction_of(live, player, transaction_id))["status"] == "completed"
    assert (await wallet(live, player))["balance"] == "500.00"


async def test_the_background_loop_settles_on_its_own(live: Live) -> None:
    live.rt.settings = live.rt.settings.with_overrides(
        reconcile_interval_s=0.05, reconcile_after_s=0.0
    )
    loop = Reconciler(live.rt)
    loop.start()
    try:
        player = await new_player(live)
        response = await post(live, player, "/deposit", {"amount": 100, "phone": phone("04")})
        done = await settled(live, player, response.json()["transaction"]["id"])
        assert done["status"] == "completed"
    finally:
        await loop.stop()
    assert (await wallet(live, player))["balance"] == "100.00"
