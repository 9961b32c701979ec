"""`make cluster`: N instances of `gamehub serve` on the configured PostgreSQL and Redis behind
an NGINX running deploy/nginx.conf, on this machine (docs/OPERATIONS.md)."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from gamehub import nginx
from gamehub.settings import PREFIX, SettingsError, ensure_secrets, load_settings, read_dotenv

READY_WITHIN_S = 60.0
REQUIRED = ("DATABASE_URL", "REDIS_URL")


class ClusterError(Exception):
    """Something the person must fix before the cluster can run; said in one line."""


def _environment() -> dict[str, str]:
    """The instances' environment: .env under the process's own (which wins), as `gamehub
    serve` reads them, with the secrets every instance must share written out."""
    env = {**read_dotenv(Path(".env")), **os.environ}
    missing = [PREFIX + name for name in REQUIRED if not env.get(PREFIX + name)]
    if missing:
        raise ClusterError(
            f"set {' and '.join(missing)}: the instances share one PostgreSQL and one Redis "
            "(the embedded database is one process's own)"
        )
    try:
        # Generated once and kept in the data folder, so every instance gets the same ones.
        settings = ensure_secrets(load_settings())
    except SettingsError as error:
        raise ClusterError(str(error)) from None
    env[PREFIX + "JWT_SECRET"] = settings.jwt_secret
    env[PREFIX + "MPESA_CALLBACK_SECRET"] = settings.mpesa_callback_secret
    env[PREFIX + "TRUSTED_PROXIES"] = "127.0.0.1"  # NGINX, as the instances see it
    return env


def _wait_ready(url: str, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + READY_WITHIN_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ClusterError(f"{what} stopped (exit code {process.returncode})")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise ClusterError(f"{what} did not answer {url} within {READY_WITHIN_S:.0f} s")


class Cluster:
    """The running processes; `stop` ends them all, whatever was started."""

    def __init__(self, instances: int, port: int, first_port: int, logs: Path) -> None:
        self.count, self.port, self.first_port, self.logs = instances, port, first_port, logs
        self.instances: list[subprocess.Popen[bytes]] = []
        self.nginx: subprocess.Popen[bytes] | None = None
        self.prefix: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self, env: dict[str, str]) -> None:
        program = nginx.binary()
        if program is None:
            raise ClusterError("nginx is not installed (`bash .ci/nginx` installs Debian's)")
        env = dict(env)
        if not env.get(PREFIX + "MPESA_CALLBACK_BASE_URL"):
            # M-Pesa calls back (and the built-in sandbox is reached) through NGINX.
            env[PREFIX + "MPESA_CALLBACK_BASE_URL"] = self.url.rstrip("/")
        python = sys.executable
        # Once, before any instance starts: instances do not migrate a database they are given.
        subprocess.run([python, "-m", "gamehub.cli", "migrate"], env=env, check=True)  # noqa: S603
        self.logs.mkdir(parents=True, exist_ok=True)
        ports = [self.first_port + n for n in range(self.count)]
        for n, port in enumerate(ports, start=1):
            log = (self.logs / f"instance-{n}.log").open("ab")
            command = [python, "-m", "gamehub.cli", "serve", "--port", str(port)]
            self.instances.append(
                subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
            )
            log.close()  # the child has its own copy
        for n, (port, process) in enumerate(zip(ports, self.instances, strict=True), start=1):
            _wait_ready(f"http://127.0.0.1:{port}/healthz", process, f"instance {n}")
        # Outside private temporary trees: NGINX's workers (nobody, under root) read it.
        self.prefix = Path(tempfile.mkdtemp(prefix="gamehub-cluster-nginx-"))
        self.nginx = nginx.start(
            program, self.prefix, self.port, [f"127.0.0.1:{port}" for port in ports]
        )
        _wait_ready(f"{self.url}healthz", self.nginx, "nginx")

    def wait(self, stopping: threading.Event) -> str:
        """Until asked to stop, NGINX stops or every instance has; what happened. An instance
        that stops (killed, restarted by hand) is reported and the others go on."""
        reported: set[int] = set()
        while not stopping.wait(0.5):
            for n, process in enumerate(self.instances, start=1):
                if process.poll() is not None and n not in reported:
                    reported.add(n)
                    print(
                        f"gamehub cluster: instance {n} stopped (exit code "
                        f"{process.returncode}); the others go on",
                        flush=True,
                    )
            if len(reported) == len(self.instances):
                return "every instance stopped"
            if self.nginx is not None and self.nginx.poll() is not None:
                return "nginx stopped"
        return "stopping"

    def stop(self) -> None:
        if self.nginx is not None:
            nginx.stop(self.nginx)
        for process in self.instances:
            if process.poll() is None:
                process.terminate()  # each drains: its streams end, its sockets close (1012)
        for process in self.instances:
            nginx.wait_or_kill(process, 15)
        if self.prefix is not None:
            shutil.rmtree(self.prefix, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gamehub.cluster", description=__doc__)
    parser.add_argument("--instances", "-n", type=int, default=3, help="how many (default 3)")
    parser.add_argument("--port", type=int, default=8080, help="NGINX's port (default 8080)")
    parser.add_argument(
        "--first-port", type=int, default=8001, help="the first instance's (default 8001)"
    )
    parser.add_argument("--logs", type=Path, default=Path("data/cluster"), help="their logs")
    args = parser.parse_args(argv)
    if args.instances < 1:
        parser.error("--instances must be at least 1")
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda _signum, _frame: stopping.set())
    cluster = Cluster(args.instances, args.port, args.first_port, args.logs)
    try:
        cluster.start(_environment())
        if stopping.is_set():
            return 0
        print(
            f"Game Hub cluster: {args.instances} instances behind NGINX at {cluster.url}"
            f"  (logs: {args.logs}/; Ctrl-C stops it)",
            flush=True,
        )
        outcome = cluster.wait(stopping)
        print(f"gamehub cluster: {outcome}; stopping", flush=True)
        return 0 if outcome == "stopping" else 1
    except (ClusterError, nginx.NginxError, subprocess.CalledProcessError) as error:
        print(f"gamehub cluster: {error}", file=sys.stderr, flush=True)
        return 2
    finally:
        cluster.stop()


if __name__ == "__main__":
    raise SystemExit(main())
