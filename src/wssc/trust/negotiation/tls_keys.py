"""TLS key material held in memory, for :mod:`ssl` contexts that read it from files only (TLSNEGO, NEGOTIATION.md
sections 1.5 and 5: the service certificate and key, a MutualSslNegotiated client's certificate and key)."""

from __future__ import annotations

import os
import ssl
import tempfile
from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

#: The private keys :func:`load_key_pair` takes.
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def load_key_pair(
    context: ssl.SSLContext,
    certificate: x509.Certificate,
    private_key: PrivateKey,
    chain: Sequence[x509.Certificate] = (),
) -> None:
    """Load a certificate (with its ``chain``) and key held in memory into ``context``: ``ssl`` reads them from
    files only, so the PEM goes through a private temporary file (mode 0600) removed at once."""
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    pem += b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (certificate, *chain))
    handle, path = tempfile.mkstemp(suffix=".pem")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(pem)
        context.load_cert_chain(path)
    finally:
        os.unlink(path)


def pem_bundle(certificates: Sequence[x509.Certificate]) -> str:
    """Certificates as one PEM string, for ``load_verify_locations(cadata=...)``."""
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode("ascii") for c in certificates)
