"""``wssc call --negotiate`` and ``wssc serve --bootstrap spnego|tlsnego`` against the independent driver over HTTP
(issue 9, "Done means" 1), every credential type, both versions, both ``establishSecurityContext`` modes.

- ``wssc call`` negotiates with the driver's service (tests/negotiation_driver_service.py): a small HTTP server
  hands every negotiation leg to the driver, and once the driver has issued a context, registers it (its key, as
  the driver negotiated it) with a wssc service that answers what follows: the RST/SCT under it or the application
  messages themselves.
- The driver's client negotiates with ``wssc serve``; the context it negotiated then protects an application
  message (wssc's message layer, the driver's key) that ``wssc serve`` answers.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from http_support import ServeProcess
from negotiation_driver import DriverClient, http_poster
from negotiation_driver_pairs import PASSWORD, tls_files
from negotiation_driver_service import DriverService
from negotiation_support import driver_context, http_echo_call, wssc
from wssc.conversation.bootstrap import ServiceCredentials
from wssc.conversation.context import Claim, SecurityContext
from wssc.conversation.negotiation import NEGOTIATED, Negotiator, is_negotiation_leg
from wssc.conversation.service import ApplicationRequest, SecureConversationService, ServiceSettings
from wssc.primitives.xml import parse
from wssc.security.soap import SOAP11, SOAP12, soap_version_of
from wssc.tokens.sct import SecurityContextToken
from wssc.tokens.x509 import self_signed
from wssc.versions import by_name

VERSIONS = ["1.3", "2005-02"]
MODES = [pytest.param((), id="establish"), pytest.param(("--no-security-context",), id="no-sc")]


@contextmanager
def hybrid(driver: DriverService, bootstrap: str, users: dict[str, str] | None = None) -> Iterator[str]:
    """The driver answers the legs; a wssc service everything after, under the contexts the driver issued."""
    certificate = self_signed("hybrid")
    negotiator = (
        Negotiator.tlsnego(*certificate) if bootstrap == "tlsnego" else Negotiator.spnego(ntlm_users={"x\\y": "z"})
    )
    settings = ServiceSettings(bootstrap=bootstrap, accept_bootstrap_messages=True)
    service = SecureConversationService(
        ServiceCredentials(*certificate, users=users), settings=settings, negotiator=negotiator
    )
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            root = parse(data)
            soap = soap_version_of(root)
            if is_negotiation_leg(root.find(soap.qname("Header")), root.find(soap.qname("Body"))):
                with lock:
                    known = set(driver.contexts)
                    status, answer = driver.handle(data)
                    for identifier in set(driver.contexts) - known:
                        _register(service, driver, identifier, bootstrap)
            else:
                event = service.receive(data)
                if isinstance(event, ApplicationRequest):
                    status, answer = 200, service.respond(event, event.message.payload())
                else:
                    status, answer = event.reply.status, event.reply.data
            self.send_response(status)
            self.send_header("Content-Type", soap.content_type)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/echo"
    finally:
        server.shutdown()


def _register(service: SecureConversationService, driver: DriverService, identifier: str, bootstrap: str) -> None:
    issued = driver.contexts[identifier]
    claims = (Claim("driver", str(issued.claims)), Claim(NEGOTIATED, bootstrap))
    version = by_name(driver.version.name)
    token = SecurityContextToken(identifier, None, issued.sct_id, version)
    context = SecurityContext(identifier, issued.key, issued.created, issued.expires, version, None, claims, (), token)
    service.store.add(context, datetime.now(timezone.utc))


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    path.write_text(tls_files().ca)
    return str(path)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("credential", ["anonymous", "username", "mutual"])
@pytest.mark.parametrize("version", VERSIONS)
def test_wssc_call_tlsnego_against_the_driver(ca: str, version: str, credential: str, mode: tuple[str, ...]) -> None:
    files = tls_files()
    driver = DriverService(
        "tlsnego",
        version,
        tls_cert_file=files.server_cert,
        tls_key_file=files.server_key,
        client_ca_pem=files.ca if credential == "mutual" else None,
    )
    users = {"alice": "secret"} if credential == "username" else None
    extra = {
        "anonymous": (),
        "username": ("--username", "alice", "--password", "secret"),
        "mutual": ("--client-cert", files.client_cert, "--client-key", files.client_key),
    }[credential]
    with hybrid(driver, "tlsnego", users) as url:
        done = wssc("call", url, "--negotiate", "tlsnego", "--ca", ca, "--sc-version", version, *extra, *mode)
    assert done.returncode == 0, done.stderr
    assert "hello from wssc" in done.stdout and len(driver.contexts) == 1


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("version", VERSIONS)
def test_wssc_call_ntlm_against_the_driver(tmp_path: Path, monkeypatch, version: str, mode: tuple[str, ...]) -> None:
    users = tmp_path / "ntlm-users"
    users.write_text(f":alice:{PASSWORD}\n")
    monkeypatch.setenv("NTLM_USER_FILE", str(users))  # the driver's acceptor reads it (pyspnego)
    driver = DriverService("spnego", version)
    with hybrid(driver, "spnego") as url:
        common = ("call", url, "--negotiate", "spnego", "--protocol", "ntlm", "--sc-version", version)
        done = wssc(*common, "--username", "alice", "--password", PASSWORD, *mode)
    assert done.returncode == 0, done.stderr
    assert "hello from wssc" in done.stdout and len(driver.contexts) == 1


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("version", VERSIONS)
def test_wssc_call_kerberos_against_the_driver(kdc: Any, monkeypatch, version: str, mode: tuple[str, ...]) -> None:
    monkeypatch.setenv("KRB5_KTNAME", str(kdc.keytab))
    driver = DriverService("spnego", version, spnego_hostname="localhost", spnego_service="HTTP")
    with hybrid(driver, "spnego") as url:
        done = wssc(
            "call", url, "--negotiate", "spnego", "--spn", "HTTP/localhost", "--sc-version", version, env=dict(kdc.env)
        )
    assert done.returncode == 0, done.stderr
    assert kdc.user in str(next(iter(driver.contexts.values())).claims)


# -- the driver's client against wssc serve ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory, ca: str) -> Iterator[dict[str, ServeProcess]]:
    files = tls_files()
    root = tmp_path_factory.mktemp("driver-vs-serve")
    (root / "users").write_text(f"alice:{PASSWORD}\n")
    (root / "ntlm-users").write_text(f"WSSC:alice:{PASSWORD}\n")
    tls = ("--cert", files.server_cert, "--key", files.server_key)
    configurations = {
        "anonymous": ("--bootstrap", "tlsnego"),
        "username": ("--bootstrap", "tlsnego", "--users", str(root / "users")),
        "mutual": ("--bootstrap", "tlsnego", "--require-client-cert", "--trust-anchor", ca),
        "ntlm": ("--bootstrap", "spnego", "--ntlm-users", str(root / "ntlm-users")),
    }
    started: dict[str, ServeProcess] = {}
    try:
        for name, args in configurations.items():
            (root / name).mkdir()
            started[name] = ServeProcess(root / name, *tls, *args)
        yield started
    finally:
        for server in started.values():
            server.stop()


@pytest.mark.parametrize("soap", ["1.1", "1.2"])
@pytest.mark.parametrize("credential", ["anonymous", "mutual", "ntlm"])
@pytest.mark.parametrize("version", VERSIONS)
def test_driver_client_against_wssc_serve(servers, version: str, credential: str, soap: str) -> None:
    files = tls_files()
    server = servers[credential]
    if credential == "ntlm":
        client = DriverClient(
            "spnego",
            version,
            soap,
            username="WSSC\\alice",
            password=PASSWORD,
            hostname="localhost",
            spnego_protocol="ntlm",
            require_mutual_auth=False,
            strict=True,
        )
    else:
        mutual = credential == "mutual"
        client = DriverClient(
            "tlsnego",
            version,
            soap,
            ca_pem=files.ca,
            strict=True,
            client_cert_file=files.client_cert if mutual else None,
            client_key_file=files.client_key if mutual else None,
        )
    result = client.negotiate(http_poster(server.url, soap))
    context = driver_context(result, by_name(version))
    assert http_echo_call(server.url, context, SOAP11 if soap == "1.1" else SOAP12, "driver") == "driver"
