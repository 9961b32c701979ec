"""How the browser client is served: the page at `/`, its files under `/web/` with the right
content types, revalidation by ETag, a strict Content-Security-Policy, and JSON 404s."""

from __future__ import annotations

import re
from pathlib import Path

from quart.typing import TestClientProtocol

from gamehub.webapp import WEB_ROOT, load_assets


async def test_index_is_the_single_page_client(client: TestClientProtocol) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert response.content_type == "text/html; charset=utf-8"
    body = await response.get_data(as_text=True)
    assert '<script type="module" src="/web/js/main.js"></script>' in body
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_files_have_their_content_types(client: TestClientProtocol) -> None:
    expected = {
        "/web/js/main.js": "text/javascript; charset=utf-8",
        "/web/css/app.css": "text/css; charset=utf-8",
        "/web/icon.svg": "image/svg+xml",
    }
    for path, content_type in expected.items():
        response = await client.get(path)
        assert response.status_code == 200, path
        assert response.content_type == content_type, path
        assert "Content-Security-Policy" not in response.headers


async def test_an_unchanged_file_is_a_304(client: TestClientProtocol) -> None:
    first = await client.get("/web/js/api.js")
    etag = first.headers["ETag"]
    again = await client.get("/web/js/api.js", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert await again.get_data() == b""
    changed = await client.get("/web/js/api.js", headers={"If-None-Match": '"other"'})
    assert changed.status_code == 200


async def test_unknown_and_escaping_paths_are_json_404s(client: TestClientProtocol) -> None:
    for path in ("/web/nope.js", "/web/../webapp.py", "/web/%2e%2e/webapp.py", "/web/js"):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert (await response.get_json())["error"]["code"] == "not_found"


def test_every_client_file_is_served_and_packaged() -> None:
    """Each file under gamehub/web has a served type (pyproject packages web/**/*)."""
    files = {p.relative_to(WEB_ROOT).as_posix() for p in WEB_ROOT.rglob("*") if p.is_file()}
    assert set(load_assets()) == files
    assert "index.html" in files and "js/main.js" in files


def test_modules_import_only_each_other() -> None:
    """No CDN, no external asset: every import is a relative path to a file that exists."""
    for script in (WEB_ROOT / "js").glob("*.js"):
        for target in re.findall(r'from "([^"]+)"', script.read_text()):
            assert target.startswith("./"), (script.name, target)
            assert (script.parent / target).is_file(), (script.name, target)
    html = (WEB_ROOT / "index.html").read_text()
    assert "http://" not in html and "https://" not in html
    assert Path(WEB_ROOT / "css" / "app.css").read_text().count("url(") == 0
