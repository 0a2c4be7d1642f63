"""Driver pairs for tests: TLS files, an NTLM environment, a client/service pair per mechanism, a recording post.

Shared by tests/test_negotiation_driver*.py; the lead can reuse ``tls_files``/``ntlm_users`` to run wssc against
the driver (tests/negotiation_driver.py, tests/negotiation_driver_service.py).
"""

from __future__ import annotations

import atexit
import functools
import ssl
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from lxml import etree
from spnego import NegotiateOptions

from negotiation_driver import DriverClient
from negotiation_driver_service import DriverService
from negotiation_driver_xml import parse
from pki import CLIENT, ROOT, issue, key_pem, pem

PASSWORD = "Passw0rd!"
BOTH = [(v, s) for v in ("1.3", "2005-02") for s in ("1.1", "1.2")]


@dataclass(frozen=True)
class Tls:
    """PEM file paths of a service certificate (CN service.example) and a client certificate, and the CA (PEM text)."""

    server_cert: str
    server_key: str
    client_cert: str
    client_key: str
    ca: str


@functools.cache
def tls_files() -> Tls:
    """The certificates, written once per test process into a temporary folder removed at exit."""
    folder = tempfile.TemporaryDirectory(prefix="tlsnego-")
    atexit.register(folder.cleanup)
    server = issue("service.example", ROOT)
    files = {"sc": pem(server[0]), "sk": key_pem(server[1]), "cc": pem(CLIENT[0]), "ck": key_pem(CLIENT[1])}
    for name, data in files.items():
        (Path(folder.name) / name).write_bytes(data)
    paths = [str(Path(folder.name) / name) for name in files]
    return Tls(paths[0], paths[1], paths[2], paths[3], pem(ROOT[0]).decode())


@pytest.fixture
def ntlm_users(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """pyspnego's NTLM acceptor reads its users from NTLM_USER_FILE (Heimdal DOMAIN:USER:PASSWORD lines): user
    ``alice`` with PASSWORD.  A realm without a KDC (KRB5_CONFIG) makes pyspnego's Negotiate give up Kerberos at once
    instead of waiting 5 s for a KDC.  Import it and use ``@pytest.mark.usefixtures("ntlm_users")``."""
    users = tmp_path / "ntlm-users"
    users.write_text(f":alice:{PASSWORD}\n")
    monkeypatch.setenv("NTLM_USER_FILE", str(users))
    krb5 = tmp_path / "krb5.conf"
    krb5.write_text(
        "[libdefaults]\n default_realm = NTLM.INVALID\n dns_lookup_kdc = false\n dns_lookup_realm = false\n"
    )
    monkeypatch.setenv("KRB5_CONFIG", str(krb5))


def ntlm_pair(
    version: str, soap: str, password: str = PASSWORD, *, strict: bool = True
) -> tuple[DriverClient, DriverService]:
    """An NTLM-over-SPNEGO pair (pyspnego's own SPNEGO; needs the ``ntlm_users`` fixture); ``strict`` on both sides."""
    client = DriverClient(
        "spnego",
        version,
        soap,
        username="alice",
        password=password,
        hostname="service.example",
        spnego_options=NegotiateOptions.use_negotiate,
        require_mutual_auth=False,
        strict=strict,
    )
    return client, DriverService("spnego", version, spnego_options=NegotiateOptions.use_negotiate, strict=strict)


def tls_pair(
    version: str,
    soap: str,
    *,
    mutual: bool = False,
    send_cert: bool | None = None,
    maximum: ssl.TLSVersion | None = None,
    value_type: str | None = None,
    strict: bool = True,
) -> tuple[DriverClient, DriverService]:
    """A TLSNEGO pair on tls_files(); ``mutual`` = the service requires a client certificate (sent unless
    ``send_cert=False``); ``strict`` on both sides."""
    tls = tls_files()
    send = mutual if send_cert is None else send_cert
    client = DriverClient(
        "tlsnego",
        version,
        soap,
        ca_pem=tls.ca,
        tls_maximum=maximum,
        client_cert_file=tls.client_cert if send else None,
        client_key_file=tls.client_key if send else None,
        value_type=value_type,
        strict=strict,
    )
    service = DriverService(
        "tlsnego",
        version,
        tls_cert_file=tls.server_cert,
        tls_key_file=tls.server_key,
        client_ca_pem=tls.ca if mutual else None,
        strict=strict,
    )
    return client, service


def recording(
    service: DriverService, log: list[bytes], mutate: Callable[[etree._Element], None] | None = None
) -> Callable[[bytes, str], bytes]:
    """A post that records both directions and can tamper with the final (RSTRC) reply."""

    def post(data: bytes, _action: str) -> bytes:
        log.append(data)
        reply = service.handle(data)[1]
        if mutate is not None and b"RequestSecurityTokenResponseCollection" in reply:
            root = parse(reply)
            mutate(root)
            reply = etree.tostring(root)
        log.append(reply)
        return reply

    return post
