"""No secret that travels in a URL (the M-Pesa callback secret, stream tickets and other query
strings) reaches a log line of the loggers that name URLs (httpx's and the sandbox's)."""

from __future__ import annotations

import logging
import re

_URL = re.compile(r"https?://[^\s\"'<>]+")
_QUERY = re.compile(r"[?#].*")
# `/payments/callbacks/<secret>/...`: the segment after `callbacks/`.
_CALLBACK_SECRET = re.compile(r"(/callbacks/)[^/?#]+")
MASK = "***"
# Loggers that name URLs; a logger's filter does not reach its children, so each is listed.
URL_LOGGERS = ("httpx", "gamehub.mpesa.sandbox_flows")


def redact_url(url: str) -> str:
    """`url` without its query string or fragment, its callback secret masked."""
    return _CALLBACK_SECRET.sub(rf"\g<1>{MASK}", _QUERY.sub("", url))


def redact(text: str) -> str:
    """Every URL in `text` redacted."""
    return _URL.sub(lambda found: redact_url(found.group()), text)


class RedactUrls(logging.Filter):
    """Rewrites a record whose message names a URL (at any level: the filter runs before any
    handler sees the record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def install() -> None:
    """Attach the filter to every logger in URL_LOGGERS, once per process."""
    for name in URL_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, RedactUrls) for existing in logger.filters):
            logger.addFilter(RedactUrls())
