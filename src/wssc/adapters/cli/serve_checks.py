"""What ``wssc serve`` checks before it listens, each failure one or two lines naming the file, URL or option at
fault (exit status 1; 2 for a usage error), never a traceback: the service certificate and key (PEM, DER or
PKCS#12, an encrypted key with ``--key-password``) and that they belong together, the users, NTLM users and keytab
files, the trust anchors, the Redis at ``--redis`` (pinged), ``WSSC_SEAL_KEY``, and the port.

A service that starts and then refuses every client for a configuration mistake is worse than one that does not
start: WCF checks its service certificate when the host opens (``ServiceHost.Open`` throws for a certificate
without a private key), and so do we, for everything above.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit, urlunsplit

import click
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12

#: seconds ``wssc serve`` waits for the Redis at ``--redis`` to connect and answer PING at start
REDIS_CHECK_TIMEOUT: Final = 3.0
#: file names read as PKCS#12 (a Windows ``.pfx`` export holds the certificate and its key)
PKCS12_SUFFIXES: Final = (".pfx", ".p12")
#: MIT keytab file format versions 1 and 2 (``krb5/src/lib/krb5/keytab/kt_file.c``: 0x0501, 0x0502)
_KEYTAB_MAGIC: Final = (b"\x05\x01", b"\x05\x02")
#: how to make a sealing key, as the messages suggest it
SEAL_KEY_RECIPE: Final = "python3 -c 'import base64,os; print(base64.b64encode(os.urandom(32)).decode())'"


def _read(path: str, option: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise click.ClickException(f"{option} {path}: cannot read it ({exc.strerror})") from None


def _pem_label(data: bytes) -> str | None:
    """The label of the first PEM block (``CERTIFICATE``, ``PRIVATE KEY``, ...), or None for binary data."""
    start = data.find(b"-----BEGIN ")
    if start < 0:
        return None
    end = data.find(b"-----", start + 11)
    return data[start + 11 : end].decode("ascii", "replace") if end > 0 else None


def read_certificate(path: str, option: str) -> x509.Certificate:
    """A PEM or DER X.509 certificate; a file holding something else is named with what it holds."""
    data = _read(path, option)
    label = _pem_label(data)
    try:
        if label == "CERTIFICATE":
            return x509.load_pem_x509_certificate(data)
        if label is None:
            return x509.load_der_x509_certificate(data)
    except ValueError:
        pass
    if label is None:
        raise click.ClickException(f"{option} {path}: is not a PEM or DER X.509 certificate")
    swapped = " (swapped with --key?)" if option == "--cert" and "PRIVATE KEY" in label else ""
    raise click.ClickException(f"{option} {path}: holds a PEM {label}, not a certificate{swapped}")


def read_private_key(path: str, password: str | None) -> rsa.RSAPrivateKey:
    """A PEM or DER private key, encrypted (PKCS#8, or traditional OpenSSL PEM) with ``password`` or not."""
    data = _read(path, "--key")
    label = _pem_label(data)
    if label is not None and "PRIVATE KEY" not in label:
        raise click.ClickException(f"--key {path}: holds a PEM {label}, not a private key (swapped with --cert?)")
    load = serialization.load_pem_private_key if label else serialization.load_der_private_key
    secret = password.encode() if password is not None else None
    try:
        try:
            key = load(data, password=secret)
        except TypeError:  # a password for a key that has none: the key is what was asked for
            if secret is None:
                raise
            key = load(data, password=None)
    except TypeError:
        raise click.ClickException(
            f"--key {path} is encrypted: give its password with --key-password (or WSSC_KEY_PASSWORD)"
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        why = "wrong --key-password, or not a private key" if secret else "not a PEM or DER private key"
        raise click.ClickException(f"--key {path}: {why}") from None
    return _rsa(key, f"--key {path}")


def _rsa(key: object, where: str) -> rsa.RSAPrivateKey:
    if not isinstance(key, rsa.RSAPrivateKey):
        kind = type(key).__name__.removeprefix("_").replace("PrivateKey", "") or "non-RSA"
        raise click.ClickException(
            f"{where}: not an RSA key ({kind}); the WS-SecurityPolicy suites wssc speaks need RSA"
        )
    return key


def read_pkcs12(path: str, password: str | None) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    """The certificate and key of a PKCS#12 file (a Windows ``.pfx`` export)."""
    data = _read(path, "--cert")
    try:
        key, certificate, _ = pkcs12.load_key_and_certificates(data, password.encode() if password else None)
    except ValueError:
        why = "wrong --key-password" if password else "encrypted: give its password with --key-password"
        raise click.ClickException(f"--cert {path}: not a PKCS#12 file, or {why}") from None
    if certificate is None or key is None:
        raise click.ClickException(f"--cert {path}: the PKCS#12 file must hold the certificate and its private key")
    return certificate, _rsa(key, f"--cert {path}")


def _is_certificate(data: bytes) -> bool:
    """PEM of any kind (a certificate, or a key given in its place), or a DER certificate: not PKCS#12."""
    if _pem_label(data) is not None:
        return True
    try:
        x509.load_der_x509_certificate(data)
    except ValueError:
        return False
    return True


def service_credentials(
    cert_path: str, key_path: str | None, password: str | None
) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    """The service certificate and its private key: ``--cert`` PEM/DER with ``--key``, or a PKCS#12 ``--cert``
    alone; the key must be the certificate's (their public keys compared)."""
    if key_path is None:
        if not cert_path.lower().endswith(PKCS12_SUFFIXES) and _is_certificate(_read(cert_path, "--cert")):
            raise click.UsageError(f"--cert {cert_path} needs --key (or give a PKCS#12 .pfx holding both)")
        certificate, key = read_pkcs12(cert_path, password)
        return certificate, key
    if cert_path.lower().endswith(PKCS12_SUFFIXES):
        raise click.UsageError(f"--cert {cert_path} is PKCS#12 and holds its key: drop --key")
    certificate, key = read_certificate(cert_path, "--cert"), read_private_key(key_path, password)
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if certificate.public_key().public_bytes(*spki) != key.public_key().public_bytes(*spki):
        raise click.ClickException(
            f"--cert {cert_path} and --key {key_path} do not match: the key is not the private key of "
            f"'{certificate.subject.rfc4514_string()}'"
        )
    return certificate, key


def read_users(path: str, option: str = "--users") -> dict[str, str]:
    """``name:password`` per line (WCF's UserName credential); blank lines and ``#`` comments ignored.  The
    messages name the line, never its content (it holds a password)."""
    try:
        text = _read(path, option).decode("utf-8")
    except UnicodeDecodeError:
        raise click.ClickException(f"{option} {path}: not a UTF-8 text file of name:password lines") from None
    users = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if line and not line.startswith("#"):
            name, sep, password = line.partition(":")
            if not sep or not name:
                raise click.ClickException(f"{option} {path}, line {number}: expected name:password")
            users[name] = password
    if not users:
        raise click.ClickException(f"{option} {path}: no name:password line")
    return users


def check_ntlm_users(path: str) -> None:
    """pyspnego's NTLM user file (``NTLM_USER_FILE``): ``DOMAIN:user:password`` lines, or smbpasswd lines of
    four fields or more; it ignores any other line, so a file without one would refuse every client silently."""
    try:
        lines = _read(path, "--ntlm-users").decode("utf-8").splitlines()
    except UnicodeDecodeError:
        raise click.ClickException(
            f"--ntlm-users {path}: not a UTF-8 text file of DOMAIN:user:password lines"
        ) from None
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if line and not line.startswith("#") and line.count(":") < 2:
            raise click.ClickException(f"--ntlm-users {path}, line {number}: expected DOMAIN:user:password")
    if not any(line.count(":") >= 2 for line in lines):
        raise click.ClickException(f"--ntlm-users {path}: no DOMAIN:user:password line")


def check_keytab(path: str, option: str = "--keytab") -> None:
    """A Kerberos keytab in MIT's file format (what ``ktutil`` and ``kadmin ktadd`` write; Windows' ``ktpass``
    writes the same) holding at least one key."""
    data = _read(path, option)
    if data[:2] not in _KEYTAB_MAGIC:
        raise click.ClickException(f"{option} {path}: not a Kerberos keytab (ktutil or ktpass writes one)")
    offset = 2
    while offset + 4 <= len(data):
        (size,) = struct.unpack_from(">i", data, offset)
        if size > 0:
            return
        offset += 4 + abs(size)  # a negative size is a hole left by a removed entry
    raise click.ClickException(f"{option} {path}: the keytab holds no key")


def check_environment_keytab() -> None:
    """The keytab ``KRB5_KTNAME`` names, when it names a file (``FILE:path`` or a bare path; other kinds, such
    as ``MEMORY:``, are Kerberos's to check)."""
    name = os.environ.get("KRB5_KTNAME", "")
    kind, colon, rest = name.partition(":")
    path = rest if colon and kind in ("FILE", "WRFILE") else (name if not colon or len(kind) == 1 else "")
    if path:
        if not os.path.isfile(path):
            raise click.ClickException(f"KRB5_KTNAME {name}: no such file")
        check_keytab(path, "KRB5_KTNAME")


def shown_url(url: str) -> str:
    """A Redis URL fit to print: its password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def check_redis(url: str) -> None:
    """Connect to the Redis at ``url`` and PING it, within :data:`REDIS_CHECK_TIMEOUT` seconds."""
    try:
        import redis
    except ImportError:
        raise click.UsageError("--redis needs redis-py: pip install 'wssc[redis]'") from None
    where = shown_url(url)
    try:
        client = redis.Redis.from_url(
            url, socket_connect_timeout=REDIS_CHECK_TIMEOUT, socket_timeout=REDIS_CHECK_TIMEOUT
        )
    except ValueError as exc:
        raise click.UsageError(f"--redis {where}: {exc}") from None
    try:
        client.ping()
    except redis.AuthenticationError:
        raise click.ClickException(f"Redis at {where} (--redis) refused the credentials in the URL") from None
    except redis.RedisError as exc:
        raise click.ClickException(f"cannot reach Redis at {where} (--redis): {exc}") from None
    finally:
        client.close()


def check_port(host: str, port: int) -> None:
    """Bind ``host:port`` as uvicorn will (``SO_REUSEADDR``; IPv6 for a host with a colon) and let go."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
    except socket.gaierror as exc:
        raise click.UsageError(f"--host {host}: no such address ({exc.strerror})") from None
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            message = f"port {port} on {host} is already in use (another wssc serve?): stop it or choose another --port"
        elif exc.errno == errno.EADDRNOTAVAIL:
            message = f"--host {host} is not an address of this machine"
        elif exc.errno == errno.EACCES:
            message = f"port {port}: permission denied (ports below 1024 need privileges)"
        else:
            message = f"cannot listen on {host}:{port}: {exc.strerror}"
        raise click.ClickException(message) from None
