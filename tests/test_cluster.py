"""`make cluster` (python -m gamehub.cluster): two instances on the test PostgreSQL and Redis
behind a real NGINX answer through it, and Ctrl-C stops everything; without a shared
PostgreSQL and Redis it refuses, saying what to set."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from gamehub import cluster
from tests.backends import Backend
from tests.live import free_port
from tests.nginx import binary

STARTED_WITHIN_S = 60.0
STOPPED_WITHIN_S = 20.0


def _env(tmp_path: Path, **gamehub: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GAMEHUB_")}
    env.update(GAMEHUB_DATA_DIR=str(tmp_path / "data"), GAMEHUB_BCRYPT_ROUNDS="4")
    env.update({f"GAMEHUB_{name}": value for name, value in gamehub.items()})
    return env


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "gamehub.cluster", *args]


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _two_free_ports() -> int:
    """A port whose next one is free too (the instances' ports are consecutive)."""
    while True:
        port = free_port()
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port


def test_refuses_without_a_shared_database_and_redis(tmp_path: Path) -> None:
    done = subprocess.run(
        _command("--instances", "2"),
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "GAMEHUB_DATABASE_URL and GAMEHUB_REDIS_URL" in done.stderr, done.stderr


def test_instances_share_the_development_secrets_kept_in_the_data_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unset secrets are generated once, before the instances start: instances that each made
    their own would refuse each other's tokens and callbacks."""
    for name in list(os.environ):
        if name.startswith("GAMEHUB_"):
            monkeypatch.delenv(name)
    env = _env(tmp_path, DATABASE_URL="postgresql://db.invalid/x", REDIS_URL="redis://r.invalid")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    first, second = cluster._environment(), cluster._environment()
    kept = (tmp_path / "data" / "jwt-secret").read_text(encoding="utf-8").strip()
    assert first["GAMEHUB_JWT_SECRET"] == second["GAMEHUB_JWT_SECRET"] == kept != ""
    assert first["GAMEHUB_MPESA_CALLBACK_SECRET"] == second["GAMEHUB_MPESA_CALLBACK_SECRET"] != ""


def test_two_instances_behind_nginx_answer_and_stop_on_ctrl_c(
    backend: Backend, tmp_path: Path
) -> None:
    if backend.redis_url is None:
        pytest.skip("a cluster shares Redis: the services backend runs this test")
    binary()  # skips (fails in CI) without nginx
    port, first = free_port(), _two_free_ports()
    env = _env(tmp_path, DATABASE_URL=backend.database_url, REDIS_URL=backend.redis_url)
    args = ["--instances", "2", "--port", str(port), "--first-port", str(first)]
    args += ["--logs", str(tmp_path / "logs")]
    process = subprocess.Popen(
        _command(*args), cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        printed: list[str] = []
        ready = threading.Event()

        def read() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                printed.append(line.decode(errors="replace"))
                if "Ctrl-C stops it" in printed[-1]:
                    ready.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        assert ready.wait(STARTED_WITHIN_S), "".join(printed)
        url = f"http://127.0.0.1:{port}/"
        assert url in printed[-1]
        assert _listening(first) and _listening(first + 1)
        with httpx.Client(base_url=url, timeout=10) as http:
            for _ in range(4):  # least_conn spreads them over both
                assert http.get("/healthz").status_code == 200
            assert http.get("/readyz").status_code == 200

        process.send_signal(signal.SIGINT)
        assert process.wait(STOPPED_WITHIN_S) == 0, "".join(printed)
        reader.join(5)
        assert not _listening(port) and not _listening(first) and not _listening(first + 1)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)
