"""Excise on deposits (gamehub/taxes.py, off by default): a completed deposit is credited in
full and the excise in force when it was asked for moves to its liability account, once, in the
same transaction; the back office's tax report shows it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from gamehub import taxes
from gamehub.models import Account, Transfer
from gamehub.settings import Settings, SettingsError, load_settings
from tests.admin.operators import operator
from tests.wallet.conftest import Live, new_player
from tests.wallet.flows import eventually, phone, post, settled, wallet

# Kenya's rates as an example (docs/OPERATIONS.md): 12.5 %, then 5 % from 1 July 2025.
KENYA = "12.5%@2023-07-01,5%@2025-07-01"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_overrides(tax_deposit_excise=taxes.parse_rates(KENYA))


async def test_a_deposit_pays_the_excise_in_force_once(live: Live) -> None:
    player = await new_player(live)
    response = await post(live, player, "/deposit", {"amount": 1001, "phone": phone("05")})
    assert response.status_code == 202, response.text
    started = response.json()["transaction"]
    done = await settled(live, player, started["id"])
    assert done["status"] == "completed" and done["amount"] == "1001.00"
    prompt = live.sandbox.state.prompts[started["provider_ref"]]

    async def all_delivered() -> bool:
        return len(prompt.callbacks) == 3 and all(c.status_code for c in prompt.callbacks)

    await eventually(all_delivered)
    # 5 % of 1001.00 is 50.05; scenario 05 calls back three times: charged once.
    assert (await wallet(live, player))["balance"] == "950.95"
    async with live.rt.sessions() as session:
        excise = (
            await session.scalars(select(Transfer).where(Transfer.kind == "deposit_excise"))
        ).all()
        liability = await session.scalar(
            select(Account).where(Account.code == taxes.DEPOSIT_EXCISE_ACCOUNT)
        )
    assert [(t.reference, t.amount) for t in excise] == [(f"deposit:{started['id']}:excise", 5005)]
    assert liability is not None and (liability.kind, liability.balance) == ("tax", 5005)

    staff = await operator(live.app.test_client(), live.rt)
    today = datetime.now(UTC).date().isoformat()
    report = await live.app.test_client().get(
        f"/admin/reports/taxes?from={today}&to={today}", headers=staff.headers
    )
    assert report.status_code == 200, await report.get_data(as_text=True)
    body = await report.get_json()
    assert body["days"] == [
        {"day": today, "tax": "deposit_excise", "base": "1001.00", "amount": "50.05", "count": 1}
    ]
    assert body["total"] == "50.05"


def test_rates_follow_their_effective_dates() -> None:
    rates = taxes.parse_rates(KENYA)
    assert [(r.basis_points, r.effective_from.isoformat()) for r in rates] == [
        (1250, "2023-07-01"),
        (500, "2025-07-01"),
    ]
    assert taxes.rate_at(rates, datetime(2023, 6, 30, 23, 59, tzinfo=UTC)) == 0
    assert taxes.rate_at(rates, datetime(2024, 1, 1, tzinfo=UTC)) == 1250
    assert taxes.rate_at(rates, datetime(2025, 7, 1, tzinfo=UTC)) == 500
    assert taxes.tax_on(999, 1250) == 124  # rounded down
    assert taxes.rate_at((), datetime.now(UTC)) == 0  # off by default
    for bad in ("5", "5%", "5%@2025-13-01", "150%@2025-01-01", "5%@2025-07-01,6%@2025-07-01"):
        with pytest.raises(ValueError):
            taxes.parse_rates(bad)
    with pytest.raises(SettingsError, match="TAX_DEPOSIT_EXCISE"):
        load_settings({"GAMEHUB_TAX_DEPOSIT_EXCISE": "five percent"})
    assert load_settings({}).tax_deposit_excise == ()
