"""The browser client: index.html at `/`, the back office at `/backoffice`, their files under
`/web/` (Quart keeps `/static/` for itself)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from quart import Blueprint, Response, request
from quart_schema import hide

from gamehub.errors import NotFound

WEB_ROOT = Path(__file__).parent / "web"
INDEX = "index.html"
BACK_OFFICE = "backoffice.html"

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
}

# Everything the page loads comes from this origin; no inline script, no third party.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str
    etag: str


def load_assets(root: Path = WEB_ROOT) -> dict[str, Asset]:
    """Read the client's files (of known types) once, at start-up: no request touches the disk."""
    assets: dict[str, Asset] = {}
    if not root.is_dir():
        return assets
    for path in sorted(root.rglob("*")):
        content_type = CONTENT_TYPES.get(path.suffix.lower())
        if not path.is_file() or content_type is None or path.name.startswith("."):
            continue
        assets[path.relative_to(root).as_posix()] = asset_of(path, content_type)
    return assets


def asset_of(path: Path, content_type: str) -> Asset:
    body = path.read_bytes()
    return Asset(body, content_type, hashlib.sha256(body).hexdigest()[:32])


def asset_response(asset: Asset | None) -> Response:
    """A file with its ETag (a 304 when the browser has it); 404 for None."""
    if asset is None:
        raise NotFound()
    quoted = f'"{asset.etag}"'
    if quoted in {tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")}:
        response = Response(b"", status=304)
    else:
        response = Response(asset.body, content_type=asset.content_type)
    response.headers["ETag"] = quoted
    # No content hash in file names (no build step): a browser must revalidate (a 304).
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def web_blueprint(root: Path = WEB_ROOT) -> Blueprint:
    blueprint = Blueprint("web", __name__)
    assets = load_assets(root)

    def serve(name: str) -> Response:
        asset = assets.get(name)
        response = asset_response(asset)
        if asset is not None and asset.content_type.startswith("text/html"):
            response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
            response.headers["Referrer-Policy"] = "no-referrer"
            response.headers["X-Frame-Options"] = "DENY"
        return response

    @blueprint.get("/")
    @hide
    async def index() -> Response:
        """The browser client (a single page)."""
        return serve(INDEX)

    @blueprint.get("/backoffice")
    @hide
    async def back_office() -> Response:
        """The operators' back office (a page of its own, talking to /admin)."""
        return serve(BACK_OFFICE)

    @blueprint.get("/web/<path:name>")
    @hide
    async def static_file(name: str) -> Response:
        """The browser client's scripts, styles and images."""
        return serve(name)

    return blueprint
