"""The embedded sandbox's phone page says what the sandbox does (it answers prompts by itself
unless run with --manual-prompts), and the page's polling stays out of the access log while
every other request is logged."""

from __future__ import annotations

import logging

import pytest
from quart import Quart


async def test_the_phone_page_says_prompts_settle_by_themselves(app: Quart) -> None:
    client = app.test_client()
    page = await client.get("/sandbox/phone", follow_redirects=True)
    text = await page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Auto-approve" in text and "--manual-prompts" in text
    listed = await (await client.get("/sandbox/daraja/sandbox/api/stk")).get_json()
    assert listed == {"prompts": [], "manual_prompts": False}


async def test_the_phone_pages_polling_is_not_in_the_access_log(
    app: Quart, caplog: pytest.LogCaptureFixture
) -> None:
    client = app.test_client()
    with caplog.at_level(logging.INFO, logger="gamehub.access"):
        for _ in range(3):
            assert (
                await client.get("/sandbox/daraja/sandbox/api/stk?status=open")
            ).status_code == 200
        assert (await client.get("/healthz")).status_code == 200
    logged = [r.getMessage() for r in caplog.records if r.name == "gamehub.access"]
    assert logged == ["GET /healthz 200"]
