"""An unprivileged NGINX on one machine running deploy/nginx.conf (its `listen` and upstream
`server` lines replaced) in front of local instances, for `make cluster` and the tests."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path

SHIPPED = Path(__file__).resolve().parent.parent / "deploy" / "nginx.conf"
_LISTEN = re.compile(r"^(\s*)listen 80;$", re.MULTILINE)
_UPSTREAM_SERVERS = re.compile(
    r"(upstream gamehub \{\n(?:\s*least_conn;\n)?)(?:\s*server [^\n]+\n)+"
)
_UPSTREAM_NAME = re.compile(r"^upstream gamehub \{", re.MULTILINE)
_PROXY_PASS = re.compile(r"proxy_pass http://gamehub;")
_UPGRADE_MAP = re.compile(r"^map \$http_upgrade \$connection_upgrade \{\n.*?^\}\n", re.M | re.S)


class NginxError(Exception):
    """NGINX is missing, refuses the configuration, or stopped."""


def binary() -> str | None:
    """The nginx program, if there is one (Debian's is in /usr/sbin, often not on PATH)."""
    return shutil.which("nginx") or (
        "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None
    )


def server_block(port: int, upstreams: list[str], backups: Sequence[str] = ()) -> str:
    """deploy/nginx.conf on 127.0.0.1:`port` in front of `upstreams` (host:port), those in
    `backups` marked `backup`."""
    text = SHIPPED.read_text(encoding="utf-8")
    text, listens = _LISTEN.subn(rf"\g<1>listen 127.0.0.1:{port};", text)
    servers = "".join(
        f"    server {upstream} max_fails=3 fail_timeout=5s"
        f"{' backup' if upstream in backups else ''};\n"
        for upstream in upstreams
    )
    text, blocks = _UPSTREAM_SERVERS.subn(lambda found: found.group(1) + servers, text)
    if (listens, blocks) != (1, 1):
        raise NginxError("deploy/nginx.conf no longer has the lines that are replaced")
    return text


def preferring(ports: list[int], upstreams: list[str]) -> str:
    """deploy/nginx.conf once per upstream: 127.0.0.1:`ports[i]` prefers `upstreams[i]` and
    keeps the others as backups, so a test can pick a client's instance and still see fail-over."""
    blocks = []
    for n, (port, preferred) in enumerate(zip(ports, upstreams, strict=True), start=1):
        others = [upstream for upstream in upstreams if upstream != preferred]
        text = server_block(port, [preferred, *others], backups=others)
        text, named = _UPSTREAM_NAME.subn(f"upstream gamehub_{n} {{", text)
        text, passed = _PROXY_PASS.subn(f"proxy_pass http://gamehub_{n};", text)
        if n > 1:  # the http-level map may be defined only once
            text, maps = _UPGRADE_MAP.subn("", text)
            if maps != 1:
                raise NginxError("deploy/nginx.conf no longer has the upgrade map")
        if named != 1 or passed == 0:
            raise NginxError("deploy/nginx.conf no longer names its upstream `gamehub`")
        blocks.append(text)
    return "\n".join(blocks)


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


def start(program: str, prefix: Path, port: int, upstreams: list[str]) -> subprocess.Popen[bytes]:
    """NGINX in the foreground on 127.0.0.1:`port`, files under `prefix` (readable by nobody)."""
    return start_with(program, prefix, server_block(port, upstreams))


def start_with(program: str, prefix: Path, server_blocks: str) -> subprocess.Popen[bytes]:
    """NGINX in the foreground running `server_blocks` (rendered here), files under `prefix`."""
    prefix.chmod(0o755)
    (prefix / "gamehub.conf").write_text(server_blocks, encoding="utf-8")
    config = prefix / "nginx.conf"
    config.write_text(_main_config(prefix), encoding="utf-8")
    command = [program, "-p", str(prefix), "-e", str(prefix / "error.log"), "-c", str(config)]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True, check=False)  # noqa: S603
    if checked.returncode != 0:
        raise NginxError(f"nginx refuses the configuration:\n{checked.stderr}")
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # noqa: S603


def stop(process: subprocess.Popen[bytes]) -> None:
    """Gracefully (what is in flight finishes), killed after 5 s."""
    if process.poll() is None:
        process.send_signal(signal.SIGQUIT)
        wait_or_kill(process, 5)
    if process.stderr is not None:
        process.stderr.close()


def wait_or_kill(process: subprocess.Popen[bytes], timeout_s: float) -> None:
    """Wait for a process told to stop; kill it if it has not within `timeout_s`."""
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


def error_log(prefix: Path) -> str:
    path = prefix / "error.log"
    return path.read_text(errors="replace")[-2000:] if path.is_file() else "(no error log)"
