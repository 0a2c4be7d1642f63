"""Certificates and private keys from files, for ``wssc serve`` and ``wssc call``.

Certificates as PEM or DER (a ``.cer`` exported from Windows is either); private keys as PEM or DER, PKCS#8 or
traditional, encrypted ones with their password; PKCS#12 bundles (``.pfx``/``.p12``, how Windows exports a WCF
client certificate with its key), read with cryptography's ``pkcs12`` loader.  Every failure is a
:class:`click.ClickException` naming the option and the file (exit status 1), never a traceback.
"""

from __future__ import annotations

from pathlib import Path

import click
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12


def _where(path: str, option: str | None) -> str:
    return f"{option} {path}" if option else path


def _read(path: str, option: str | None) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise click.ClickException(f"{_where(path, option)}: cannot read it ({exc.strerror or exc})") from None


def _is_pkcs12(data: bytes) -> bool:
    """A DER SEQUENCE that is neither a certificate nor a key: the caller then tries PKCS#12."""
    return data[:1] == b"\x30"


def load_certificate(path: str, option: str | None = None) -> x509.Certificate:
    """An X.509 certificate, PEM or DER; ``option`` names the flag in errors."""
    data = _read(path, option)
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError:
        pass
    if b"PRIVATE KEY-----" in data:
        raise click.ClickException(f"{_where(path, option)}: this is a private key, not a certificate")
    raise click.ClickException(f"{_where(path, option)}: not an X.509 certificate (PEM or DER)")


def _rsa(key: object, path: str, option: str | None) -> rsa.RSAPrivateKey:
    if not isinstance(key, rsa.RSAPrivateKey):
        raise click.ClickException(f"{_where(path, option)}: only RSA keys are supported")
    return key


def load_private_key(
    path: str, option: str | None = None, password: str | None = None, unlock_option: str = "its password"
) -> rsa.RSAPrivateKey:
    """An RSA private key, PEM or DER, encrypted ones with ``password`` (``unlock_option`` names its flag)."""
    data = _read(path, option)
    secret = password.encode() if password is not None else None
    try:
        if b"-----BEGIN" in data:
            return _rsa(serialization.load_pem_private_key(data, password=secret), path, option)
        return _rsa(serialization.load_der_private_key(data, password=secret), path, option)
    except TypeError:
        # cryptography: "Password was not given but private key is encrypted" (or given for a plain key)
        if secret is None:
            message = f"{_where(path, option)}: the key is encrypted; give {unlock_option}"
            raise click.ClickException(message) from None
        return load_private_key(path, option, None, unlock_option)
    except ValueError:
        if secret is not None and b"ENCRYPTED" in data:
            raise click.ClickException(f"{_where(path, option)}: wrong password ({unlock_option})") from None
    if b"-----BEGIN CERTIFICATE" in data:
        raise click.ClickException(f"{_where(path, option)}: this is a certificate, not a private key")
    raise click.ClickException(f"{_where(path, option)}: not a private key (PEM or DER)")


def load_pkcs12(
    path: str, option: str | None = None, password: str | None = None, unlock_option: str = "its password"
) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    """The certificate and key of a PKCS#12 bundle (``.pfx``/``.p12``)."""
    data = _read(path, option)
    try:
        key, certificate, _ = pkcs12.load_key_and_certificates(
            data, password.encode() if password is not None else None
        )
    except ValueError:
        hint = f"wrong password ({unlock_option})" if password is not None else f"encrypted? give {unlock_option}"
        raise click.ClickException(f"{_where(path, option)}: cannot read this PKCS#12 file: {hint}") from None
    if certificate is None or key is None:
        raise click.ClickException(f"{_where(path, option)}: the PKCS#12 file must hold a certificate and its key")
    return certificate, _rsa(key, path, option)


def load_client_credentials(
    cert_path: str,
    key_path: str | None,
    password: str | None,
    *,
    cert_option: str = "--client-cert",
    key_option: str = "--client-key",
    unlock_option: str = "--client-key-password",
) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    """A client certificate and its key: a PEM/DER pair, or a PKCS#12 bundle alone; checked to belong together."""
    if key_path is None:
        data = _read(cert_path, cert_option)
        if b"-----BEGIN" in data or not _is_pkcs12(data):
            raise click.ClickException(
                f"{cert_option} {cert_path}: give {key_option} too, or a PKCS#12 file (.pfx/.p12) holding both"
            )
        return load_pkcs12(cert_path, cert_option, password, unlock_option)
    certificate = load_certificate(cert_path, cert_option)
    key = load_private_key(key_path, key_option, password, unlock_option)
    if key.public_key().public_numbers() != _public_numbers(certificate):
        raise click.ClickException(f"{key_option} {key_path} is not the key of {cert_option} {cert_path}")
    return certificate, key


def _public_numbers(certificate: x509.Certificate) -> rsa.RSAPublicNumbers | None:
    public = certificate.public_key()
    return public.public_numbers() if isinstance(public, rsa.RSAPublicKey) else None
