"""Structured JSON logs with a request id and no secret from a URL (the M-Pesa callback secret,
stream tickets in query strings), and Prometheus metrics for every request."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import secrets
import sys
import time
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from quart import Quart, Response, g, request

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
access_log = logging.getLogger("gamehub.access")
_URL = re.compile(r"https?://[^\s\"'<>]+")
_QUERY = re.compile(r"[?#].*")
_CALLBACK_SECRET = re.compile(r"(/callbacks/)[^/?#]+")  # `/payments/callbacks/<secret>/...`
# Loggers that name URLs (our access log names route templates); a logger's filter does not
# reach its children, so each is listed.
URL_LOGGERS = ("httpx", "gamehub.mpesa.sandbox_flows")
# Successes counted but not logged: the sandbox phone page's polling (most development log lines).
QUIET_ROUTES = frozenset({"/sandbox/api/stk", "/sandbox/daraja/sandbox/api/stk"})


def redact_urls(text: str) -> str:
    """Every URL in `text` without its query string or fragment, its callback secret masked."""
    return _URL.sub(
        lambda found: _CALLBACK_SECRET.sub(r"\g<1>***", _QUERY.sub("", found.group())), text
    )


class RedactUrls(logging.Filter):
    """Rewrites a record whose message names a URL (at any level: it runs before any handler)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact_urls(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def redact_url_loggers() -> None:
    """Attach RedactUrls to every logger in URL_LOGGERS, once per process."""
    for name in URL_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, RedactUrls) for existing in logger.filters):
            logger.addFilter(RedactUrls())


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": request_id_var.get(),
        }
        for key, value in record.__dict__.items():
            if key.startswith("ctx_"):
                entry[key[4:]] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(json_logs: bool, level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if json_logs:
        formatter: logging.Formatter = JsonFormatter()
        formatter.converter = time.gmtime
    else:
        formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


class Metrics:
    """Per-app registry, so many apps in one process (tests) never collide."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "gamehub_http_requests",
            "HTTP requests by method, route and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "gamehub_http_request_duration_seconds",
            "HTTP request latency by method and route.",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)


def install(app: Quart, metrics: Metrics) -> None:
    """Give each request an id (echoed in X-Request-ID), then log and count it."""

    @app.before_request
    async def _start() -> None:
        incoming = request.headers.get("X-Request-ID", "")
        rid = incoming if _SAFE_REQUEST_ID.match(incoming) else secrets.token_hex(8)
        request_id_var.set(rid)
        g.request_id = rid
        g.started = time.perf_counter()
        g.received_at = datetime.now(UTC)

    @app.after_request
    async def _finish(response: Response) -> Response:
        rid = getattr(g, "request_id", request_id_var.get())
        response.headers["X-Request-ID"] = rid
        started = getattr(g, "started", None)
        elapsed = time.perf_counter() - started if started is not None else 0.0
        route = request.url_rule.rule if request.url_rule is not None else "unmatched"
        metrics.requests.labels(request.method, route, str(response.status_code)).inc()
        metrics.latency.labels(request.method, route).observe(elapsed)
        if route in QUIET_ROUTES and response.status_code < 400:
            return response
        # The route template, not the path: paths and query strings carry secrets.
        access_log.info(
            "%s %s %s",
            request.method,
            route,
            response.status_code,
            extra={
                "ctx_method": request.method,
                "ctx_route": route,
                "ctx_status": response.status_code,
                "ctx_ms": round(elapsed * 1000, 2),
                "ctx_user_id": getattr(g, "user_id", None),  # set by both guards
                "ctx_client": request.remote_addr,
            },
        )
        return response
