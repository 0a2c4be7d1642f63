"""A small test PKI: a root CA, an issuing CA and certificates under them (and under another root)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NOW = datetime.now(timezone.utc)
Pair = tuple[x509.Certificate, rsa.RSAPrivateKey]


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def issue(
    name: str,
    issuer: Pair | None,
    *,
    ca: bool = False,
    usages: list[x509.ObjectIdentifier] | None = None,
    valid_days: int = 30,
    start: datetime | None = None,
    dns_names: list[str] | None = None,
) -> Pair:
    """A certificate for ``name`` issued by ``issuer`` (self-signed when None)."""
    key = _key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    issuer_cert, issuer_key = issuer if issuer is not None else (None, key)
    start = start or NOW - timedelta(days=1)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_cert.subject if issuer_cert is not None else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    )
    if ca:
        usage = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
        builder = builder.add_extension(usage, critical=True)
    if dns_names is not None:
        san = x509.SubjectAlternativeName([x509.DNSName(name) for name in dns_names])
        builder = builder.add_extension(san, critical=False)
    if usages is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    return builder.sign(issuer_key, hashes.SHA256()), key


ROOT = issue("Test Root CA", None, ca=True, valid_days=3650)
INTERMEDIATE = issue("Test Issuing CA", ROOT, ca=True, valid_days=365)
CLIENT = issue("client.example", ROOT, usages=[ExtendedKeyUsageOID.CLIENT_AUTH])
DEEP_CLIENT = issue("deep.example", INTERMEDIATE)
OTHER_ROOT = issue("Other Root CA", None, ca=True, valid_days=3650)
STRANGER = issue("stranger.example", OTHER_ROOT)


def pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
