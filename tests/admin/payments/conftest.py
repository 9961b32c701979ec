"""The payments queue's tests run against the app served over HTTP with the built-in Daraja
sandbox calling back, as the wallet's tests do (their fixtures)."""

from tests.wallet.conftest import live, own_port, settings  # noqa: F401
