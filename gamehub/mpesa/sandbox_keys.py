"""The sandbox's own RSA key pair and self-signed certificate, made at run time, never stored."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class SandboxKeys:
    """Clients encrypt SecurityCredential with `certificate_pem`; the sandbox decrypts it."""

    private_key: rsa.RSAPrivateKey
    certificate_pem: bytes

    @classmethod
    def generate(cls) -> SandboxKeys:
        """A fresh 2048-bit key: tens of milliseconds of CPU, so at start-up or in a thread."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Daraja sandbox (test only)")])
        now = datetime.now(UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=365))
            .sign(key, hashes.SHA256())
        )
        return cls(key, certificate.public_bytes(serialization.Encoding.PEM))

    def decrypt_credential(self, credential: str) -> str | None:
        """The initiator password inside a SecurityCredential, or None if it is not ours."""
        try:
            secret = self.private_key.decrypt(
                base64.b64decode(credential, validate=True), padding.PKCS1v15()
            )
            return secret.decode()
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return None
