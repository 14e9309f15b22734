"""
Throw-away TLS material for loopback tests: a self-signed certificate for
``localhost``/127.0.0.1, written to PEM files when an endpoint string needs
them.
"""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path
from typing import Any


def self_signed() -> tuple[Any, Any]:
    """
    ``(key, certificate)`` as ``cryptography`` objects.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    return key, certificate


def write_pem(directory: Path) -> tuple[Path, Path]:
    """
    Write a fresh key and certificate; ``(key_path, cert_path)``.
    """
    from cryptography.hazmat.primitives import serialization

    key, certificate = self_signed()
    key_path = directory / "key.pem"
    cert_path = directory / "cert.pem"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path
