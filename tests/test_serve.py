"""`gamehub serve` with no configuration: starts and migrates its own PostgreSQL under data/,
answers over real HTTP, and stops that server when it stops."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GAMEHUB_")}
    env["GAMEHUB_BCRYPT_ROUNDS"] = "4"
    process = subprocess.Popen(
        [sys.executable, "-m", "gamehub.cli", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            process.kill()
            pytest.fail(f"gamehub serve did not answer: {process.communicate()[0][-2000:]}")
        yield base
    finally:
        process.terminate()
        try:
            output = process.communicate(timeout=15)[0]
        except subprocess.TimeoutExpired:
            process.kill()
            output = process.communicate()[0]
        assert f"Game Hub is running at {base}/" in output
    server = tmp_path / "data" / "postgres"
    assert (server / "PG_VERSION").is_file()
    # A clean shutdown removes postmaster.pid: the server stopped with the process.
    assert not (server / "postmaster.pid").exists(), (server / "postgres.log").read_text()


def test_embedded_default_round_trip(served: str) -> None:
    with httpx.Client(base_url=served, timeout=10) as http:
        assert http.get("/healthz").json() == {"status": "ok"}
        assert http.get("/readyz").status_code == 200
        registered = http.post(
            "/register",
            json={
                "username": "newcomer",
                "email": "newcomer@example.com",
                "password": "a fine password",
                "date_of_birth": "1995-03-04",
            },
        )
        assert registered.status_code == 201, registered.text
        login = http.post("/login", json={"username": "newcomer", "password": "a fine password"})
        assert login.status_code == 200
        token = login.json()["access_token"]
        profile = http.get("/profile", headers={"Authorization": f"Bearer {token}"})
        assert profile.status_code == 200
        assert profile.json()["username"] == "newcomer"
        assert profile.json()["balance"] == "0.00"
