"""TLS material: the self-signed certificate ``serve`` makes for this machine, once.

IBM's clients need HTTPS for streaming (they derive ``wss://`` from the runtime URL), so TLS is on
by default. Without ``--certfile``, ``serve`` creates a certificate for localhost, 127.0.0.1 and
::1 in ``DATA_DIR/tls`` and reuses it; clients on the same machine trust it by reading the same
file (see ``local_certificate``).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CERT_NAME = "cert.pem"
KEY_NAME = "key.pem"
_VALIDITY = datetime.timedelta(days=825)


@dataclass(frozen=True)
class TLSFiles:
    certfile: Path
    keyfile: Path


def ensure_self_signed(tls_dir: Path) -> TLSFiles:
    """Return the certificate and key in ``tls_dir``, creating them on first use."""
    files = TLSFiles(tls_dir / CERT_NAME, tls_dir / KEY_NAME)
    if files.certfile.is_file() and files.keyfile.is_file():
        return files
    tls_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "qruntime on localhost")])
    now = datetime.datetime.now(datetime.UTC)
    public_key = key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("::1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_encipherment=False,
                content_commitment=False,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(public_key), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    # The key is written first and only readable by its owner; a half-written pair is redone.
    key_bytes = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write_private(files.keyfile, key_bytes)
    files.certfile.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return files


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def local_certificate(data_dir: Path) -> Path | None:
    """The self-signed certificate ``serve`` made in ``data_dir``, if there is one."""
    path = data_dir / "tls" / CERT_NAME
    return path if path.is_file() else None
