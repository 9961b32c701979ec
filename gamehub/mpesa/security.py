"""Daraja's request secrets (Nairobi timestamp, STK password, B2C SecurityCredential) and the
TLS context of every call over HTTPS."""

from __future__ import annotations

import base64
import ssl
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import cache

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

TIMESTAMP_FORMAT = "%Y%m%d%H%M%S"


@cache
def tls_context() -> ssl.SSLContext:
    """One verifying context per process, shared by every client: making one reads the whole CA
    bundle, and a context may serve many connections."""
    return httpx.create_ssl_context()


def _nairobi() -> tzinfo:
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo("Africa/Nairobi")
    except Exception:  # no tz database (tzdata missing); Kenya has no DST
        return timezone(timedelta(hours=3), "EAT")


NAIROBI = _nairobi()


def daraja_timestamp(now: datetime | None = None) -> str:
    """YYYYMMDDHHMMSS in Nairobi time, as Daraja expects in Timestamp fields."""
    moment = now if now is not None else datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(NAIROBI).strftime(TIMESTAMP_FORMAT)


def stk_password(shortcode: str, passkey: str, timestamp: str) -> str:
    """base64(shortcode + passkey + timestamp): the Password of STK Push and STK Query."""
    return base64.b64encode(f"{shortcode}{passkey}{timestamp}".encode()).decode("ascii")


def load_public_key(certificate: bytes) -> rsa.RSAPublicKey:
    """The RSA key of an X.509 certificate (PEM or DER) or of a PEM public key."""
    key: object
    if b"-----BEGIN CERTIFICATE-----" in certificate:
        key = x509.load_pem_x509_certificate(certificate).public_key()
    elif b"-----BEGIN PUBLIC KEY-----" in certificate:
        key = serialization.load_pem_public_key(certificate)
    else:
        key = x509.load_der_x509_certificate(certificate).public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("the M-Pesa certificate must carry an RSA public key")
    return key


def security_credential(initiator_password: str, certificate: bytes) -> str:
    """The initiator password encrypted with the certificate's key (RSA PKCS#1 v1.5), base64."""
    encrypted = load_public_key(certificate).encrypt(
        initiator_password.encode(), padding.PKCS1v15()
    )
    return base64.b64encode(encrypted).decode("ascii")
