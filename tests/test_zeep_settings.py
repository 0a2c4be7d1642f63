"""zeep's transport settings reach the operation calls WsscTransport sends with httpx, not only the WSDL download:
the requests.Session's proxies, verify (a private CA), cert (a client certificate), headers and auth, zeep's
operation_timeout (and ``transport.settings(timeout=...)``), and AsyncTransport's own httpx.AsyncClient."""

from __future__ import annotations

import asyncio
import http.server
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import uvicorn
import zeep
from cryptography.x509.oid import ExtendedKeyUsageOID
from lxml import etree

from http_support import LiveServer, free_port
from pki import CLIENT, ROOT, issue, key_pem, pem
from test_zeep import BINDING_NS, SERVICE, TNS, WSDL
from wssc.adapters.asgi import WsscApp
from wssc.adapters.zeep_settings import UnsupportedSetting, httpx_options
from wssc.adapters.zeep_transport import AsyncWsscTransport, WsscTransport
from wssc.conversation.bootstrap import ClientBootstrap, ServiceCredentials
from wssc.conversation.service import ApplicationRequest, SecureConversationService
from wssc.security.soap import SOAP12

TLS = issue("localhost", ROOT, usages=[ExtendedKeyUsageOID.SERVER_AUTH], dns_names=["localhost"])
#: how long the slow operation takes, and the operation timeout that cannot wait for it
SLOW_SECONDS = 1.5
SHORT_TIMEOUT = 0.3


class Recorded:
    """An ASGI middleware keeping the method, path and headers of every request the service received."""

    def __init__(self, app: WsscApp) -> None:
        self.app = app
        self.requests: list[tuple[str, dict[str, str]]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
            self.requests.append((scope["method"], headers))
        await self.app(scope, receive, send)

    def posts(self) -> list[dict[str, str]]:
        return [headers for method, headers in self.requests if method == "POST"]


def _app() -> Recorded:
    service = SecureConversationService(ServiceCredentials(*SERVICE))
    app = WsscApp(service, wsdl=WSDL.format(binding_ns=BINDING_NS[SOAP12.name], address="http://placeholder/").encode())

    @app.operation("urn:example:echo/Echo")
    def echo(request: ApplicationRequest) -> etree._Element:
        text = request.message.body.findtext(f".//{{{TNS}}}text") or ""
        if text == "slow":
            time.sleep(SLOW_SECONDS)
        answer = etree.Element(f"{{{TNS}}}EchoResponse", nsmap={"e": TNS})
        etree.SubElement(answer, f"{{{TNS}}}text").text = text.upper()
        return answer

    return Recorded(app)


def _wsdl_file(tmp_path: Path, address: str) -> str:
    path = tmp_path / "echo.wsdl"
    path.write_text(WSDL.format(binding_ns=BINDING_NS[SOAP12.name], address=address))
    return str(path)


class ForwardProxy:
    """A tiny forward HTTP proxy (absolute-form requests, RFC 9112 section 3.2.2) recording what it carried."""

    def __init__(self) -> None:
        self.carried: list[tuple[str, str]] = []
        carried = self.carried

        class Handler(http.server.BaseHTTPRequestHandler):
            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                carried.append((self.command, self.path))
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "proxy-connection")}
                with httpx.Client(trust_env=False) as upstream:
                    answer = upstream.request(self.command, self.path, content=body, headers=headers)
                self.send_response(answer.status_code)
                self.send_header("Content-Type", answer.headers.get("content-type", "text/xml"))
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            do_GET = do_POST = _forward

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy() -> Iterator[ForwardProxy]:
    forward = ForwardProxy()
    try:
        yield forward
    finally:
        forward.close()


class TlsServer(LiveServer):
    """LiveServer over HTTPS with a certificate from the test CA; ``client_ca``: demand a client certificate."""

    def __init__(self, app: object, directory: Path, client_ca: Path | None = None) -> None:
        (directory / "tls.pem").write_bytes(pem(TLS[0]))
        (directory / "tls-key.pem").write_bytes(key_pem(TLS[1]))
        self.port = free_port()
        self.url = f"https://localhost:{self.port}/echo"
        options: dict[str, Any] = {
            "ssl_certfile": str(directory / "tls.pem"),
            "ssl_keyfile": str(directory / "tls-key.pem"),
        }
        if client_ca is not None:
            options.update(ssl_ca_certs=str(client_ca), ssl_cert_reqs=ssl.CERT_REQUIRED)
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="error", **options)  # type: ignore[arg-type]
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)


def _echo(transport: WsscTransport, wsdl: str, text: str = "hello") -> str:
    return str(zeep.Client(wsdl, transport=transport).service.Echo(text=text))


def test_the_sessions_proxy_carries_the_operation_calls(proxy: ForwardProxy, tmp_path: Path) -> None:
    app = _app()
    with LiveServer(app) as server:
        session = requests.Session()
        session.proxies = {"http": proxy.url}
        with WsscTransport(ClientBootstrap(SERVICE[0]), session=session) as transport:
            assert _echo(transport, server.url + "?wsdl") == "HELLO"
        posts = [url for method, url in proxy.carried if method == "POST"]
        # establish, the call and the cancel all went through the proxy, as the WSDL download did
        assert posts == [server.url] * 3 and ("GET", server.url + "?wsdl") in proxy.carried
        # an https-only proxy entry does not apply to an http endpoint (requests' per-scheme keys)
        proxy.carried.clear()
        session = requests.Session()
        session.proxies = {"https": proxy.url}
        with WsscTransport(ClientBootstrap(SERVICE[0]), session=session) as transport:
            assert _echo(transport, server.url + "?wsdl") == "HELLO"
        assert proxy.carried == []


def test_the_sessions_ca_verifies_the_service(tmp_path: Path) -> None:
    """The endpoint's TLS certificate comes from a private CA: the call succeeds with session.verify=ca.pem and
    fails, naming the certificate check, with the default trust store.  (The WSDL is a local file: only the
    operation call meets the server.)"""
    (tmp_path / "ca.pem").write_bytes(pem(ROOT[0]))
    with TlsServer(_app(), tmp_path) as server:
        wsdl = _wsdl_file(tmp_path, server.url)
        session = requests.Session()
        session.verify = str(tmp_path / "ca.pem")
        with WsscTransport(ClientBootstrap(SERVICE[0]), session=session) as transport:
            assert _echo(transport, wsdl) == "HELLO"
        transport = WsscTransport(ClientBootstrap(SERVICE[0]))
        with transport, pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            _echo(transport, wsdl)


def test_the_sessions_client_certificate_reaches_the_service(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_bytes(pem(ROOT[0]))
    (tmp_path / "client.pem").write_bytes(pem(CLIENT[0]))
    (tmp_path / "client-key.pem").write_bytes(key_pem(CLIENT[1]))
    with TlsServer(_app(), tmp_path, client_ca=tmp_path / "ca.pem") as server:
        wsdl = _wsdl_file(tmp_path, server.url)
        session = requests.Session()
        session.verify = str(tmp_path / "ca.pem")
        session.cert = (str(tmp_path / "client.pem"), str(tmp_path / "client-key.pem"))
        with WsscTransport(ClientBootstrap(SERVICE[0]), session=session) as transport:
            assert _echo(transport, wsdl) == "HELLO"
        session.cert = None
        transport = WsscTransport(ClientBootstrap(SERVICE[0]), session=session)
        with transport, pytest.raises(httpx.TransportError):  # the server demands a client certificate
            _echo(transport, wsdl)


def test_operation_timeout_bounds_the_call(tmp_path: Path) -> None:
    """zeep's operation_timeout: the slow operation times out (the context was established in time); zeep's
    ``transport.settings(timeout=...)`` lifts it for one block, and the same conversation carries on."""
    with LiveServer(_app()) as server:
        with WsscTransport(ClientBootstrap(SERVICE[0]), operation_timeout=SHORT_TIMEOUT) as transport:
            client = zeep.Client(server.url + "?wsdl", transport=transport)
            assert client.service.Echo(text="quick") == "QUICK"
            started = time.monotonic()
            with pytest.raises(httpx.TimeoutException):
                client.service.Echo(text="slow")
            assert time.monotonic() - started < SLOW_SECONDS
            with transport.settings(timeout=SLOW_SECONDS * 4):
                assert client.service.Echo(text="slow") == "SLOW"
            assert len(transport.clients) == 1
        # Without operation_timeout, zeep's timeout (the WSDL's) applies to the operations.
        with WsscTransport(ClientBootstrap(SERVICE[0]), timeout=SHORT_TIMEOUT) as transport:
            client = zeep.Client(server.url + "?wsdl", transport=transport)
            with pytest.raises(httpx.TimeoutException):
                client.service.Echo(text="slow")


def test_the_sessions_headers_reach_the_service() -> None:
    app = _app()
    with LiveServer(app) as server:
        session = requests.Session()
        session.headers["X-Tenant"] = "blue"
        session.headers["Content-Type"] = "text/plain"  # never replaces the SOAP one
        settings = zeep.Settings(extra_http_headers={"X-Trace": "t-42"})
        with WsscTransport(ClientBootstrap(SERVICE[0]), session=session) as transport:
            client = zeep.Client(server.url + "?wsdl", transport=transport, settings=settings)
            assert client.service.Echo(text="h") == "H"
    posts = app.posts()
    assert len(posts) == 3
    assert all(h["x-tenant"] == "blue" and h["content-type"].startswith("application/soap+xml") for h in posts)
    assert all(h["user-agent"].startswith("Zeep/") for h in posts)
    # zeep's extra_http_headers belong to the operation call: its establish and call, not the cancel on close
    assert [h.get("x-trace") for h in posts] == ["t-42", "t-42", None]


def test_async_transport_sends_through_its_own_httpx_client(tmp_path: Path) -> None:
    """zeep's AsyncTransport(client=httpx.AsyncClient(...)): that client carries the operations (here it is the
    only way to the in-process service)."""
    app = _app()
    wsdl = _wsdl_file(tmp_path, "http://svc.test/echo")

    async def run() -> str:
        own = httpx.AsyncClient(transport=httpx.ASGITransport(app=app))
        async with AsyncWsscTransport(ClientBootstrap(SERVICE[0]), client=own) as transport:
            answer = await zeep.AsyncClient(wsdl, transport=transport).service.Echo(text="async")
            (conversation,) = transport.clients.values()
            assert conversation.http is own
        assert own.is_closed  # closed with the transport, as zeep's AsyncTransport.aclose does
        return str(answer)

    assert asyncio.run(run()) == "ASYNC"
    assert len(app.posts()) == 3


def test_session_settings_map_to_httpx(tmp_path: Path) -> None:
    session = requests.Session()
    session.auth = ("user", "pw")
    options = httpx_options(session, "https://svc.example/echo", 12.0)
    assert isinstance(options["auth"], httpx.BasicAuth) and options["timeout"] == 12.0
    assert "proxy" not in options and options["trust_env"] is False
    session.verify = str(tmp_path / "missing.pem")
    with pytest.raises(UnsupportedSetting, match=r"missing\.pem"):
        httpx_options(session, "https://svc.example/echo", None)
    session.verify = True
    session.auth = lambda request: request  # a requests auth callable has no httpx twin: refused, not dropped
    with pytest.raises(UnsupportedSetting, match=r"session\.auth"):
        httpx_options(session, "https://svc.example/echo", None)


def test_async_transport_times_out_as_zeep_says() -> None:
    """AsyncTransport's own client: operation_timeout bounds the slow call; without one, zeep's timeout does
    (zeep's AsyncTransport alone would wait forever)."""
    from wssc.adapters.zeep_transport import ZEEP_TIMEOUT_SECONDS

    assert AsyncWsscTransport().client.timeout == httpx.Timeout(ZEEP_TIMEOUT_SECONDS)
    assert AsyncWsscTransport(timeout=7).client.timeout == httpx.Timeout(7)

    async def run(url: str) -> None:
        async with AsyncWsscTransport(ClientBootstrap(SERVICE[0]), operation_timeout=SHORT_TIMEOUT) as transport:
            client = zeep.AsyncClient(url + "?wsdl", transport=transport)
            assert await client.service.Echo(text="quick") == "QUICK"
            with pytest.raises(httpx.TimeoutException):
                await client.service.Echo(text="slow")

    with LiveServer(_app()) as server:
        asyncio.run(run(server.url))
