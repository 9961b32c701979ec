"""The API docs work offline: `/docs` loads Swagger UI's script and style from the app (a
package's copy), never from a CDN, and renders the API in Chromium with every request that is
not to loopback refused."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from playwright.async_api import Browser, Route, expect
from quart.typing import TestClientProtocol

from tests.e2e.pages import shoot

LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


async def test_docs_page_names_only_the_apps_own_assets(client: TestClientProtocol) -> None:
    page = await (await client.get("/docs")).get_data(as_text=True)
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sorted(sources) == ["/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css"]
    script = await client.get("/docs/assets/swagger-ui-bundle.js")
    assert script.status_code == 200
    assert script.content_type == "text/javascript; charset=utf-8"
    assert b"SwaggerUIBundle" in await script.get_data()
    again = await client.get(
        "/docs/assets/swagger-ui-bundle.js", headers={"If-None-Match": script.headers["ETag"]}
    )
    assert again.status_code == 304
    style = await client.get("/docs/assets/swagger-ui.css")
    assert style.status_code == 200 and style.content_type == "text/css; charset=utf-8"
    missing = await client.get("/docs/assets/swagger-editor-bundle.js")
    assert missing.status_code == 404 and (await missing.get_json())["error"]["code"]
    spec = await (await client.get("/openapi.json")).get_json()
    assert not [path for path in spec["paths"] if path.startswith("/docs")]


async def test_docs_render_with_the_network_blocked(
    browser: Browser, base_url: str, screenshots: Path
) -> None:
    context = await browser.new_context(base_url=base_url)
    refused: list[str] = []

    async def loopback_only(route: Route) -> None:
        if urlsplit(route.request.url).hostname in LOOPBACK:
            await route.continue_()
        else:
            refused.append(route.request.url)
            await route.abort("internetdisconnected")

    await context.route("**/*", loopback_only)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await page.goto("/docs")
    await expect(page.locator(".swagger-ui .info .title")).to_contain_text("Game Hub API")
    await expect(page.locator(".opblock-summary-path", has_text="/games/place-bet")).to_be_visible()
    await shoot(page, screenshots, "20-api-docs-offline")
    assert refused == [] and errors == []
    await context.close()
