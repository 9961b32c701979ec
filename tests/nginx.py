"""A real NGINX for tests: unprivileged, on a spare loopback port, configured from the shipped
deploy/nginx.conf (only its `listen` line and its upstream's `server` lines are replaced), in
front of live `gamehub serve` instances. `bash .ci/nginx` installs it from Debian's packages;
without it the tests skip, saying why (in CI they fail, as a missing service does).

Clients can come from any loopback address (127.0.0.2, 127.1.2.3, …: Linux answers the whole
127/8 on `lo`), so a test can be many different clients, each with an address of its own."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.backends import unavailable
from tests.live import free_port

SHIPPED = Path(__file__).resolve().parent.parent / "deploy" / "nginx.conf"
_LISTEN = re.compile(r"^(\s*)listen 80;$", re.MULTILINE)
_UPSTREAM_SERVERS = re.compile(
    r"(upstream gamehub \{\n(?:\s*least_conn;\n)?)(?:\s*server [^\n]+\n)+"
)


def binary() -> str:
    """The nginx program, or a skip (a failure in CI) saying how to get it."""
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None
    )
    if found is None:
        unavailable("nginx is not installed (`bash .ci/nginx` installs Debian's)", what="NGINX")
    assert found is not None
    return found


def server_block(port: int, upstreams: list[str]) -> str:
    """deploy/nginx.conf listening on 127.0.0.1:`port`, in front of `upstreams` (host:port)."""
    text = SHIPPED.read_text(encoding="utf-8")
    text, listens = _LISTEN.subn(rf"\g<1>listen 127.0.0.1:{port};", text)
    servers = "".join(
        f"    server {upstream} max_fails=3 fail_timeout=5s;\n" for upstream in upstreams
    )
    text, blocks = _UPSTREAM_SERVERS.subn(lambda found: found.group(1) + servers, text)
    assert (listens, blocks) == (1, 1), "deploy/nginx.conf no longer has the lines tests replace"
    return text


def _main_config(prefix: Path) -> str:
    # As root, the workers drop to nobody (the master only binds an unprivileged port anyway).
    user = "user nobody nogroup;\n" if os.geteuid() == 0 else ""
    temp = "\n".join(
        f"    {kind}_temp_path {prefix / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"{user}daemon off;\nworker_processes 1;\npid {prefix / 'nginx.pid'};\n"
        f"error_log {prefix / 'error.log'} warn;\n"
        "events { worker_connections 1024; }\n"
        f"http {{\n    access_log {prefix / 'access.log'};\n{temp}\n"
        f"    include {prefix / 'gamehub.conf'};\n}}\n"
    )


@contextlib.asynccontextmanager
async def nginx_in_front_of(upstreams: list[str]) -> AsyncIterator[str]:
    """NGINX with the shipped configuration in front of `upstreams`; yields its base URL."""
    program = binary()
    port = free_port()
    # Outside pytest's private tmp tree: the workers (nobody, under root) must reach it.
    prefix = Path(tempfile.mkdtemp(prefix="gamehub-nginx-"))
    prefix.chmod(0o755)
    (prefix / "gamehub.conf").write_text(server_block(port, upstreams), encoding="utf-8")
    config = prefix / "nginx.conf"
    config.write_text(_main_config(prefix), encoding="utf-8")
    command = [program, "-p", str(prefix), "-e", str(prefix / "error.log"), "-c", str(config)]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, f"nginx refuses the configuration:\n{checked.stderr}"
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 10
        while True:
            assert process.poll() is None, f"nginx stopped: {_log(prefix)}"
            try:
                _reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"nginx did not listen: {_log(prefix)}")
                await asyncio.sleep(0.05)
        yield base
    finally:
        process.send_signal(signal.SIGQUIT)  # graceful: finish what is in flight
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        if process.stderr is not None:
            process.stderr.close()
        shutil.rmtree(prefix, ignore_errors=True)


def _log(prefix: Path) -> str:
    path = prefix / "error.log"
    return path.read_text(errors="replace")[-2000:] if path.is_file() else "(no error log)"


def client_from(address: str, base: str, **options: object) -> httpx.AsyncClient:
    """An HTTP client whose connections come from `address` (a loopback address)."""
    transport = httpx.AsyncHTTPTransport(local_address=address)
    return httpx.AsyncClient(base_url=base, transport=transport, timeout=10, **options)  # type: ignore[arg-type]
