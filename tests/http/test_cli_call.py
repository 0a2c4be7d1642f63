"""``wssc call``, ``wssc cancel`` and ``wssc policy`` as a new user meets them (issue 10): every mistake is one or two
lines naming the URL, file or option at fault (exit 1; 2 for usage), the HTTP status is honoured, the service's own
fault code and reason are shown with what they mean, and the options --soap, --action, --save-session and
cancel --session do what they say.  The commands run in process (click's CliRunner); a traceback fails the test."""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import stat
import threading
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from http_support import LiveServer, free_port
from negotiation_support import Ran, wssc
from pki import CLIENT, ROOT, STRANGER, issue, key_pem, pem
from wssc import versions
from wssc.adapters.cli.conversation import DEMO_WSDL, build_app
from wssc.conversation.bootstrap import MUTUAL_CERTIFICATE, ServiceCredentials
from wssc.tokens.x509 import self_signed

SERVICE = self_signed("wssc cli test service")
OTHER = self_signed("some other service")
WRONG_ACTION = "urn:example:NotAnOperation"
ACTION_NOT_SUPPORTED = (
    f"The message with Action '{WRONG_ACTION}' cannot be processed at the receiver, due to a ContractFilter mismatch "
    "at the EndpointDispatcher. This may be because of either a contract mismatch (mismatched Actions between sender "
    "and receiver) or a binding/security mismatch between the sender and the receiver."
)
#: WCF's answer to a message whose action no operation has (SOAP 1.2, WS-Addressing 1.0)
WCF_ACTION_FAULT = (
    '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://www.w3.org/2005/08/addressing">'
    '<s:Header><a:Action s:mustUnderstand="1">http://www.w3.org/2005/08/addressing/fault</a:Action></s:Header>'
    "<s:Body><s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value>a:ActionNotSupported</s:Value>"
    f'</s:Subcode></s:Code><s:Reason><s:Text xml:lang="en-US">{ACTION_NOT_SUPPORTED}</s:Text></s:Reason>'
    "</s:Fault></s:Body></s:Envelope>"
).encode()
#: WCF's answer to a bootstrap it cannot decrypt (encrypted to another certificate than its own)
WCF_SECURITY_FAULT = (
    b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><s:Fault><s:Code><s:Value>s:Sender'
    b'</s:Value><s:Subcode><s:Value xmlns:a="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-'
    b'secext-1.0.xsd">a:InvalidSecurity</s:Value></s:Subcode></s:Code><s:Reason><s:Text xml:lang="en-US">An error '
    b"occurred when verifying security for the message.</s:Text></s:Reason></s:Fault></s:Body></s:Envelope>"
)
SOAP11_INPUT = (
    b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
    b'<echo xmlns="urn:wssc:demo">in soap 1.1</echo></s:Body></s:Envelope>'
)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Scope]]
Send = Callable[[Scope], Awaitable[None]]


def failed(ran: Ran, status: int, *culprits: str) -> str:
    """The command failed with ``status`` in one or two lines naming every culprit, and no traceback."""
    assert ran.returncode == status, (ran.returncode, ran.stdout, ran.stderr)
    assert "Traceback" not in ran.stderr + ran.stdout
    message = [line for line in ran.stderr.strip().splitlines() if not line.startswith(("Usage:", "Try "))]
    message = [line for line in message if line]
    assert 1 <= len(message) <= 2, ran.stderr
    for culprit in culprits:
        assert culprit in ran.stderr, (culprit, ran.stderr)
    return ran.stderr


class Recorder:
    """ASGI middleware in front of the demo service: records each request's content type and body, and answers
    a message with :data:`WRONG_ACTION` as WCF does (``a:ActionNotSupported``)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.requests: list[tuple[str, bytes]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = dict(scope["headers"])
        self.requests.append((headers.get(b"content-type", b"").decode(), body))
        if WRONG_ACTION.encode() in body:
            await _answer(send, 500, "application/soap+xml; charset=utf-8", WCF_ACTION_FAULT)
            return
        sent = False

        async def replay() -> Scope:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


async def _answer(send: Send, status: int, content_type: str, body: bytes) -> None:
    headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def not_soap(scope: Scope, receive: Receive, send: Send) -> None:
    """/missing: 404; /broken: 500 with an HTML page; /login: 200 with an HTML page; /wsdl: the demo WSDL."""
    if scope["type"] != "http":
        return
    answers = {
        "/missing": (404, "text/html", b"<html><body>404 - File or directory not found.</body></html>"),
        "/broken": (500, "text/html", b"<html><body>Server Error in '/' Application.</body></html>"),
        "/login": (200, "text/html; charset=utf-8", b"<!DOCTYPE html><html><body>Please sign in</body></html>"),
        "/wsdl": (200, "text/xml", DEMO_WSDL),
        "/soap11-only": (415, "text/plain", b""),
        "/wcf-security": (500, "application/soap+xml; charset=utf-8", WCF_SECURITY_FAULT),
    }
    await _answer(send, *answers.get(scope["path"], (404, "text/plain", b"no")))


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("cli-call")
    secret = b"pfx secret"
    encrypted = CLIENT[1].private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(secret)
    )
    bundle = pkcs12.serialize_key_and_certificates(
        b"client", CLIENT[1], CLIENT[0], None, serialization.BestAvailableEncryption(secret)
    )
    contents = {
        "service.pem": pem(SERVICE[0]),
        "other.pem": pem(OTHER[0]),
        "client.pem": pem(CLIENT[0]),
        "client-key.pem": key_pem(CLIENT[1]),
        "client-key-encrypted.pem": encrypted,
        "client.pfx": bundle,
        "stranger-key.pem": key_pem(STRANGER[1]),
        "garbage.pem": b"this is not a certificate\n",
        "not-xml.xml": b"hello, not XML",
        "soap11.xml": SOAP11_INPUT,
    }
    paths = {}
    for name, data in contents.items():
        (folder / name).write_bytes(data)
        paths[name] = str(folder / name)
    paths["dir"] = str(folder)
    return paths


@pytest.fixture(scope="module")
def service() -> Iterator[tuple[LiveServer, Recorder]]:
    """The demo echo service (anonymous-for-certificate) behind the recorder."""
    app = Recorder(build_app(ServiceCredentials(*SERVICE), versions.SC_1_3))
    with LiveServer(app) as server:
        yield server, app


@pytest.fixture(scope="module")
def mutual() -> Iterator[LiveServer]:
    """The demo echo service with the mutual-certificate bootstrap (any client certificate that signs)."""
    with LiveServer(build_app(ServiceCredentials(*SERVICE), versions.SC_1_3, bootstrap=MUTUAL_CERTIFICATE)) as server:
        yield server


@pytest.fixture(scope="module")
def pages() -> Iterator[str]:
    with LiveServer(not_soap) as server:
        yield f"http://127.0.0.1:{server.port}"


@pytest.fixture(scope="module")
def tls_port() -> Iterator[int]:
    """An HTTPS server (stdlib) that answers every request with 200."""
    certificate = issue("127.0.0.1", ROOT, dns_names=["localhost"])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    folder = Path(os.environ.get("TMPDIR", "/tmp"))
    cert_file, key_file = folder / f"tls-{server.server_port}.pem", folder / f"tls-{server.server_port}-key.pem"
    cert_file.write_bytes(pem(certificate[0]))
    key_file.write_bytes(key_pem(certificate[1]))
    context.load_cert_chain(cert_file, key_file)
    cert_file.unlink()
    key_file.unlink()
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()


# --- the happy paths the options open ------------------------------------------------------------------------


def test_soap_follows_the_input_and_the_option(service: tuple[LiveServer, Recorder], files: dict[str, str]) -> None:
    server, recorder = service
    recorder.requests.clear()
    ran = wssc("call", server.url, files["soap11.xml"], "--server-cert", files["service.pem"])
    assert ran.returncode == 0, ran.stderr
    assert "in soap 1.1" in ran.stdout
    assert {content_type.split(";")[0] for content_type, _ in recorder.requests} == {"text/xml"}
    recorder.requests.clear()
    ran = wssc("call", server.url, files["soap11.xml"], "--server-cert", files["service.pem"], "--soap", "1.2")
    assert ran.returncode == 0 and "in soap 1.1" in ran.stdout
    assert {content_type.split(";")[0] for content_type, _ in recorder.requests} == {"application/soap+xml"}
    recorder.requests.clear()
    assert wssc("call", server.url, "--server-cert", files["service.pem"]).returncode == 0  # bare payload: 1.2
    assert recorder.requests[0][0].startswith("application/soap+xml")


def test_action_overrides_and_a_wcf_fault_is_shown_as_sent(
    service: tuple[LiveServer, Recorder], files: dict[str, str]
) -> None:
    server, recorder = service
    recorder.requests.clear()
    ran = wssc("call", server.url, "--server-cert", files["service.pem"], "--action", "urn:wssc:demo:echo2")
    assert ran.returncode == 0, ran.stderr
    assert b"urn:wssc:demo:echo2" in recorder.requests[1][1]  # [0] is the RST
    ran = wssc("call", server.url, "--server-cert", files["service.pem"], "--action", WRONG_ACTION)
    message = failed(ran, 1, server.url, "a:ActionNotSupported", "ContractFilter mismatch", "--action")
    assert "The specified request failed" not in message  # not the generic wst:RequestFailed text


def test_suite_applies(service: tuple[LiveServer, Recorder], files: dict[str, str]) -> None:
    server, _ = service
    ran = wssc("call", server.url, "--server-cert", files["service.pem"], "--suite", "Basic128")
    failed(ran, 1, server.url, "wsse:UnsupportedAlgorithm", "--suite")  # it demands Basic256: Basic128 was sent


def test_save_session_then_cancel_session(service: tuple[LiveServer, Recorder], files: dict[str, str]) -> None:
    server, _ = service
    path = Path(files["dir"]) / "session.json"
    path.write_text("an older session, replaced")
    os.chmod(path, 0o644)
    ran = wssc("call", server.url, "--server-cert", files["service.pem"], "--no-cancel", "--save-session", str(path))
    assert ran.returncode == 0, ran.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    saved = json.loads(path.read_text())
    identifier = ran.stdout.strip().splitlines()[-1]
    assert saved["identifier"] == identifier and saved["url"] == server.url and saved["soap"] == "1.2"
    assert saved["sc_version"] == "1.3" and saved["key"] and saved["sct"].startswith("<") and saved["expires"]
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".session.json")]  # no temporary left
    ran = wssc("cancel", "--session", str(path))
    assert ran.returncode == 0 and ran.stdout.strip() == f"cancelled {identifier}"
    failed(wssc("cancel", "--session", str(path)), 1, "wsc:BadContextToken", "does not know this context")


def test_save_session_is_owner_only_from_creation(
    service: tuple[LiveServer, Recorder], files: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, _ = service
    path = Path(files["dir"]) / "fresh-session.json"
    options = ("--server-cert", files["service.pem"], "--no-cancel", "--save-session", str(path))
    old = os.umask(0)  # the most permissive umask: the mode must not depend on it
    try:
        ran = wssc("call", server.url, *options)
    finally:
        os.umask(old)
    assert ran.returncode == 0 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert wssc("cancel", "--session", str(path)).returncode == 0
    help_text = wssc("call", "--help").stdout
    assert "--save-session" in help_text and "key" in help_text and "0600" in help_text


def test_save_session_usage(files: dict[str, str]) -> None:
    ran = wssc("call", "http://127.0.0.1:1/echo", "--server-cert", files["service.pem"], "--save-session", "x.json")
    failed(ran, 2, "--no-cancel")
    session = Path(files["dir"]) / "not-a-session.json"
    session.write_text('{"format": "something else"}')
    failed(wssc("cancel", "--session", str(session)), 1, str(session), "not a wssc session file")
    failed(wssc("cancel", "http://127.0.0.1:1/echo"), 2, "--session")


def test_pkcs12_and_encrypted_key(mutual: LiveServer, files: dict[str, str]) -> None:
    base = ("call", mutual.url, "--server-cert", files["service.pem"])
    ran = wssc(*base, "--client-cert", files["client.pfx"], "--client-key-password", "pfx secret")
    assert ran.returncode == 0 and "hello from wssc" in ran.stdout, ran.stderr
    encrypted = ("--client-cert", files["client.pem"], "--client-key", files["client-key-encrypted.pem"])
    ran = wssc(*base, *encrypted, "--client-key-password", "pfx secret")
    assert ran.returncode == 0, ran.stderr
    failed(wssc(*base, *encrypted), 1, files["client-key-encrypted.pem"], "--client-key-password", "encrypted")
    failed(wssc(*base, *encrypted, "--client-key-password", "nope"), 1, "wrong password", "--client-key")
    failed(wssc(*base, "--client-cert", files["client.pfx"]), 1, files["client.pfx"], "--client-key-password")
    failed(
        wssc(*base, "--client-cert", files["client.pfx"], "--client-key-password", "nope"),
        1,
        files["client.pfx"],
        "wrong password",
    )


# --- mistakes ------------------------------------------------------------------------------------------------


def test_service_certificate_that_does_not_match(
    service: tuple[LiveServer, Recorder], pages: str, files: dict[str, str]
) -> None:
    server, _ = service
    wcf = f"http://127.0.0.1:{urlsplit(pages).port}/wcf-security"
    ran = wssc("call", wcf, "--server-cert", files["other.pem"])
    failed(ran, 1, "wsse:InvalidSecurity: An error occurred when verifying security", files["other.pem"], "WSDL")
    ran = wssc("call", server.url, "--server-cert", files["other.pem"])
    wsdl = f"{server.url}?wsdl"
    failed(ran, 1, files["other.pem"], "service's certificate", f"wssc policy {wsdl} --save-certificate", "wssc-dev/")
    saved = Path(files["dir"]) / "published.pem"
    ran = wssc("policy", wsdl, "--save-certificate", str(saved))
    assert ran.returncode == 0 and "wrote" in ran.stderr and "wssc cli test service" in ran.stderr
    assert wssc("call", server.url, "--server-cert", str(saved)).returncode == 0  # the hint, followed, works


def test_unreachable_and_bad_urls(files: dict[str, str]) -> None:
    cert = ("--server-cert", files["service.pem"])
    closed = f"http://127.0.0.1:{free_port()}/echo"
    failed(wssc("call", closed, *cert), 1, closed, "connection refused")
    unknown = "http://no-such-host.invalid/echo"
    failed(wssc("call", unknown, *cert), 1, unknown, "unknown host")
    for bad in ("127.0.0.1:8080/echo", "ftp://127.0.0.1/echo", "http://"):
        failed(wssc("call", bad, *cert), 2, repr(bad), "http://")
    failed(wssc("cancel", "localhost/echo", "--session", files["service.pem"]), 2, "'localhost/echo'")


def test_tls_against_plain_http_and_plain_http_against_tls(
    service: tuple[LiveServer, Recorder], tls_port: int, files: dict[str, str]
) -> None:
    server, _ = service
    https = server.url.replace("http://", "https://")
    failed(wssc("call", https, "--server-cert", files["service.pem"]), 1, https, "TLS", "http://")
    plain = f"http://127.0.0.1:{tls_port}/echo"
    failed(wssc("call", plain, "--server-cert", files["service.pem"]), 1, plain, "https://")


def test_status_honoured(pages: str, files: dict[str, str]) -> None:
    cert = ("--server-cert", files["service.pem"])
    failed(wssc("call", f"{pages}/missing", *cert), 1, f"{pages}/missing", "404", "no service at this address")
    failed(wssc("call", f"{pages}/broken", *cert), 1, f"{pages}/broken", "HTTP 500", "without a SOAP fault")
    failed(wssc("call", f"{pages}/soap11-only", *cert), 1, "HTTP 415", "another SOAP version", "application/soap+xml")
    failed(wssc("call", f"{pages}/login", *cert), 1, f"{pages}/login", "HTTP 200", "not a SOAP response", "sign in")


def test_library_raises_typed_http_errors(pages: str) -> None:
    from wssc.adapters.http_client import AsyncWsscClient, EndpointNotFound, HttpError, NotSoapResponse, WsscClient
    from wssc.conversation.bootstrap import ClientBootstrap

    for path, kind, status in (("missing", EndpointNotFound, 404), ("broken", HttpError, 500)):
        with WsscClient(f"{pages}/{path}", ClientBootstrap(SERVICE[0])) as client, pytest.raises(kind) as raised:
            client.establish()
        assert raised.value.status == status and raised.value.url == f"{pages}/{path}"
    with WsscClient(f"{pages}/login", ClientBootstrap(SERVICE[0])) as client, pytest.raises(NotSoapResponse):
        client.establish()

    async def establish_async() -> None:
        async with AsyncWsscClient(f"{pages}/missing", ClientBootstrap(SERVICE[0])) as client:
            await client.establish()

    with pytest.raises(EndpointNotFound, match="HTTP 404"):
        asyncio.run(establish_async())


def test_file_mistakes(service: tuple[LiveServer, Recorder], files: dict[str, str]) -> None:
    server, _ = service
    cert = ("--server-cert", files["service.pem"])
    failed(wssc("call", server.url, files["not-xml.xml"], *cert), 1, files["not-xml.xml"], "not an XML document")
    failed(wssc("call", server.url, "absent.xml", *cert), 2, "absent.xml")
    headless = Path(files["dir"]) / "no-body.xml"
    headless.write_text('<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header/></s:Envelope>')
    failed(wssc("call", server.url, str(headless), *cert), 1, str(headless), "not a SOAP envelope")
    tlsnego = ("--negotiate", "tlsnego", "--ca", files["garbage.pem"])
    failed(wssc("call", server.url, *tlsnego), 1, f"--ca {files['garbage.pem']}", "not a PEM CA bundle")
    failed(wssc("call", server.url, "--server-cert", files["garbage.pem"]), 1, files["garbage.pem"], "--server-cert")
    failed(wssc("call", server.url, "--server-cert", files["client-key.pem"]), 1, "private key, not a certificate")
    client = ("--client-cert", files["client.pem"])
    failed(wssc("call", server.url, *cert, *client, "--client-key", files["garbage.pem"]), 1, "--client-key")
    failed(
        wssc("call", server.url, *cert, *client, "--client-key", files["stranger-key.pem"]),
        1,
        files["stranger-key.pem"],
        "is not the key of",
        files["client.pem"],
    )
    failed(wssc("call", server.url, *cert, *client), 1, "--client-key", "PKCS#12")


def test_console_script_mistake_has_no_traceback(files: dict[str, str]) -> None:
    closed = f"http://127.0.0.1:{free_port()}/echo"
    failed(wssc("call", closed, "--server-cert", files["service.pem"], subprocess_=True), 1, closed)


# --- wssc policy ---------------------------------------------------------------------------------------------


def test_policy_from_a_url(service: tuple[LiveServer, Recorder], pages: str) -> None:
    server, _ = service
    ran = wssc("policy", f"{server.url}?wsdl")
    assert ran.returncode == 0 and "wssc supports everything this policy demands" in ran.stdout, ran.stderr
    failed(wssc("policy", f"{pages}/missing?wsdl"), 1, f"{pages}/missing?wsdl", "404")
    closed = f"http://127.0.0.1:{free_port()}/Service.svc?wsdl"
    failed(wssc("policy", closed), 1, closed, "connection refused")
    failed(wssc("policy", "ftp://example.com/x.wsdl"), 2, "ftp://example.com/x.wsdl")
    failed(wssc("policy", f"{pages}/wsdl", "--save-certificate", "x.pem"), 1, "publishes no service certificate")


def test_policy_exit_status_and_messages_name_nothing_outside(vector_path: Callable[[str], Path]) -> None:
    supported = vector_path("cxf-wssc-wsdl/DoubleItWSSC.wsdl")
    assert wssc("policy", str(supported)).returncode == 0
    over_tls = vector_path("wcf-docs-policies/SspiNegotiatedOverTransport_policy.xml")
    ran = wssc("policy", str(over_tls))
    assert ran.returncode == 3 and "wssc does not support:" in ran.stdout
    assert wssc("policy", str(over_tls), "--json").returncode == 3
    folder = supported.parents[1]
    documents = [*folder.glob("*wsdl*/*.wsdl"), *folder.glob("*wsdl*/*.xml"), *folder.glob("wcf-docs-policies/*.xml")]
    assert len(documents) > 10
    for document in documents:
        ran = wssc("policy", str(document))
        assert ran.returncode in (0, 3), (document, ran.stderr)
        words = ran.stdout.replace(str(document), "")
        for outside in ("issue ", "NEGOTIATION", "SPEC-NOTES", "ANCHORS", "/work/", ".md"):
            assert outside not in words, (document, outside)


def test_library_error_carries_the_services_code_and_reason(service: tuple[LiveServer, Recorder]) -> None:
    from wssc.adapters.http_client import WsscClient
    from wssc.conversation.bootstrap import ClientBootstrap
    from wssc.errors import RequestFailed

    server, _ = service
    with WsscClient(server.url, ClientBootstrap(SERVICE[0])) as client:
        with pytest.raises(RequestFailed) as raised:
            client.call(b'<echo xmlns="urn:wssc:demo">x</echo>', WRONG_ACTION)
        assert client.session.established  # the fault came on the application message, the context stands
    assert raised.value.fault_code == "{http://www.w3.org/2005/08/addressing}ActionNotSupported"
    assert raised.value.fault_reason == ACTION_NOT_SUPPORTED
    assert raised.value.reason == RequestFailed.reason  # the class keeps its spec text


def test_negotiation_the_service_does_not_take(service: tuple[LiveServer, Recorder]) -> None:
    server, _ = service
    ntlm = ("--negotiate", "spnego", "--protocol", "ntlm", "--username", "D\\u", "--password", "p")
    ran = wssc("call", server.url, *ntlm)
    failed(ran, 1, server.url, "wsse:InvalidSecurity", "did not take the negotiation", f"wssc policy {server.url}?wsdl")


def test_a_byte_order_mark_before_the_envelope_is_soap() -> None:
    """Mono's WCF answers with a UTF-8 BOM first (XML 1.0 section 4.3.3): still a SOAP response."""
    import httpx

    from wssc.adapters.http_errors import checked_content

    body = b'\xef\xbb\xbf<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="urn:x"/>'
    response = httpx.Response(200, content=body, headers={"content-type": "application/soap+xml; charset=utf-8"})
    assert checked_content(response) == body


def test_an_application_fault_exits_1_with_the_services_code_and_reason(tmp_path: Path) -> None:
    """A fault the service's handler sends under the context is the service's answer: shown, exit 1."""
    from http_support import LiveServer
    from negotiation_support import wssc
    from pki import pem
    from wssc.adapters.app_fault import ApplicationFault
    from wssc.adapters.asgi import WsscApp
    from wssc.conversation.bootstrap import ServiceCredentials
    from wssc.conversation.service import SecureConversationService
    from wssc.tokens.x509 import self_signed

    certificate, key = self_signed("faulting service")
    (tmp_path / "service.pem").write_bytes(pem(certificate))

    def refuse(request: object) -> None:
        raise ApplicationFault("{urn:example}OutOfStock", "no more widgets")

    app = WsscApp(SecureConversationService(ServiceCredentials(certificate, key)), default=refuse)
    with LiveServer(app) as server:
        done = wssc("call", server.url, "--server-cert", str(tmp_path / "service.pem"))
    assert done.returncode == 1
    assert "application fault: OutOfStock: no more widgets" in done.stderr
    assert len(done.stderr.strip().splitlines()) <= 2 and "Traceback" not in done.stderr
