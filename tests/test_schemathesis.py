"""Schemathesis over `/openapi.json`: the app's own document drives generated requests (valid
and invalid) at the real app over HTTP, as a registered player, and every response must be no
server error and conform to the document (status code, content type, headers, body schema).

It also holds the document to what the server accepts (`positive_data_acceptance`): a request
generated as valid from the document must be answered 2xx, 3xx, 401, 403, 404, 409, 429 (or
5xx, which `not_a_server_error` fails): never a 400, and never a 422 except on the operations
`BUSINESS_422` names, whose 422s include refusals by a rule the document cannot state (a stake
below a room's limits, which come from the configuration; a date of birth under 18, which
depends on today). On those operations any 422 passes, a `validation_error` too, so the check
is weaker there. Generated strings hold no NUL and no unpaired surrogate: the API refuses
them in any JSON text (400), which tests/test_hostile_input.py covers. The cases the document
and the server were brought to agree on (ids as `7.0`, null where only absence is allowed, a
login naming neither or both of username and email, a zero amount) have tests of their own:
tests/test_openapi_conformance.py.

The run is bounded (`MAX_TIME_S`, a fixed seed) and runs on one backend (the services one, as
in production). Operations excluded, and the tests that cover them instead:
- the streams (`/events`, `/events/connect`, `/games/lobby/events`,
  `/games/rooms/{room_id}/events`) answer with a stream that does not end:
  tests/rooms/test_room_streams.py, tests/test_userstream.py, and the hostile-input corpus
  (ids in their paths);
- `/auth/logout` and `/responsible-play/pause` end the login the run uses:
  tests/auth/ and tests/test_responsible_play.py;
- the built-in Daraja sandbox (`/sandbox/...`) answers as Daraja does: tests/mpesa/.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import httpx
import pytest
from quart import Quart

from gamehub.runtime import EXTENSION
from gamehub.settings import Settings
from tests.funding import fund
from tests.helpers import PASSWORD
from tests.live import free_port, serve_at

pytestmark = pytest.mark.parametrize("backend", ["services"], indirect=True)

# The run's time budget (about 2 minutes of the suite's time); GAMEHUB_SCHEMATHESIS_MAX_TIME_S
# and GAMEHUB_SCHEMATHESIS_SEED run it longer or differently by hand (seeds 15 and 7 passed with
# 120 s, seed 15 with 90 s, all checks on).
MAX_TIME_S = int(os.environ.get("GAMEHUB_SCHEMATHESIS_MAX_TIME_S", "120"))
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
        "positive_data_acceptance",
    ]
)
# Operations that refuse some well-formed requests with a 422 of their own code (never
# `validation_error`), by a rule that depends on configuration, time or the player's state:
# the deposit, bet and stake limits (settings), the age rule (today), the withdrawal's phone (the
# profile's), a game filter (the catalogue in the database), the fairness check's seed count
# (which `game` decides; query parameters cannot depend on each other).
BUSINESS_422 = [
    "/deposit",
    "/games/join",
    "/games/place-bet",
    "/games/spin-and-win/play",
    "/register",
    "/withdraw",
    "/history",
    "/fairness/verify",
]
EXPECTED_STATUSES = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]
EXCLUDED_PATHS = [
    "/events",
    "/events/connect",
    "/games/lobby/events",
    "/games/rooms/{room_id}/events",
    "/auth/logout",
    "/responsible-play/pause",
]
# The built-in Daraja sandbox answers as Daraja does (its own error bodies, OAuth tokens):
# tests/mpesa/ hold it to Daraja's documented behaviour.
EXCLUDED_PATH_REGEX = "^/sandbox/"


def schemathesis_config() -> str:
    """Each of `BUSINESS_422`'s operations may answer a 422; every other keeps the default."""
    statuses = ", ".join(f'"{status}"' for status in [*EXPECTED_STATUSES, "422"])
    return "".join(
        f'[[operations]]\ninclude-path = "{path}"\n'
        f"checks.positive_data_acceptance.expected-statuses = [{statuses}]\n\n"
        for path in BUSINESS_422
    )


@pytest.fixture
def own_port() -> int:
    return free_port()


@pytest.fixture
def settings(settings: Settings, own_port: int) -> Settings:
    """Served where its M-Pesa callbacks and the built-in sandbox are reached (deposits and
    withdrawals go through), the sandbox's delays scaled down."""
    return settings.with_overrides(
        mpesa_callback_base_url=f"http://127.0.0.1:{own_port}", mpesa_sandbox_time_scale=0.02
    )


@pytest.mark.timeout(MAX_TIME_S + 90)
async def test_schemathesis_finds_no_failure(app: Quart, own_port: int, tmp_path: Path) -> None:
    st = Path(sys.executable).parent / "st"
    async with (
        serve_at(app, own_port) as base,
        httpx.AsyncClient(base_url=base, timeout=30) as http,
    ):
        signup = await http.post(
            "/register",
            json={
                "username": "schemathesis",
                "email": "schemathesis@example.com",
                "password": PASSWORD,
                "date_of_birth": "1990-01-01",
            },
        )
        assert signup.status_code == 201, signup.text
        player = signup.json()
        await fund(app.extensions[EXTENSION], player["user"]["id"], 100_000_00)
        config = tmp_path / "schemathesis.toml"
        config.write_text(schemathesis_config())
        command = [
            str(st),
            "--config-file",
            str(config),
            "run",
            f"{base}/openapi.json",
            "--checks",
            CHECKS,
            "--header",
            f"Authorization: Bearer {player['access_token']}",
            "--max-time",
            str(MAX_TIME_S),
            # Strings without NUL or unpaired surrogates, which the API refuses in any JSON
            # text (400 `malformed_json`; tests/test_hostile_input.py sends them).
            "--generation-allow-x00",
            "false",
            "--generation-codec",
            "utf-8",
            "--seed",
            os.environ.get("GAMEHUB_SCHEMATHESIS_SEED", "15"),
            "--workers",
            "2",
            "--request-timeout",
            "10",
            "--report",
            "junit",
            "--report-dir",
            str(tmp_path),
        ]
        for path in EXCLUDED_PATHS:
            command += ["--exclude-path", path]
        command += ["--exclude-path-regex", EXCLUDED_PATH_REGEX]
        process = await asyncio.create_subprocess_exec(
            *command,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "NO_COLOR": "1"},
            cwd=tmp_path,  # its cache of failures (.schemathesis/) stays out of the work tree
        )
        output, _ = await asyncio.wait_for(process.communicate(), MAX_TIME_S + 60)
    text = output.decode(errors="replace")
    if process.returncode != 0:
        print(text)  # the whole report, for pytest to show with the failure
    assert process.returncode == 0, text[-5_000:]
