"""``wssc demo``: a service and a client in one process, over loopback HTTP, through a context's whole life:
establish, calls, renew, amend, more calls, validate, cancel, and a call after cancel that the service
rejects with ``wsc:BadContextToken``.  Every step is printed; nothing else is needed on the machine."""

from __future__ import annotations

import socket
import tempfile
import threading
import time
from pathlib import Path

import click
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree
from rich.console import Console

from wssc import versions
from wssc.adapters.cli.conversation import DEMO_ACTION, DEMO_PAYLOAD, build_app, development_certificate
from wssc.adapters.cli.observe import service_tracer
from wssc.adapters.http_client import WsscClient
from wssc.adapters.keylog import KeyLog
from wssc.conversation.bootstrap import ClientBootstrap, ServiceCredentials
from wssc.conversation.negotiating import NegotiatedBootstrap, tlsnego
from wssc.conversation.negotiation import Negotiator
from wssc.errors import WsscError
from wssc.tokens.x509 import self_signed


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_server(app: object, port: int) -> uvicorn.Server:
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", lifespan="on")  # type: ignore[arg-type]
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise click.ClickException("the demo service did not start")
        time.sleep(0.02)
    return server


@click.command()
@click.option("--sc-version", type=click.Choice(["1.3", "2005-02"]), default="1.3", show_default=True)
@click.option("--calls", type=click.IntRange(min=1), default=3, show_default=True, help="calls before and after renew")
def demo(sc_version: str, calls: int) -> None:
    """Run a service and a client through a context's whole life over loopback HTTP."""
    console = Console(soft_wrap=True)
    version = versions.by_name(sc_version)
    keylog = KeyLog.from_environment()
    with tempfile.TemporaryDirectory(prefix="wssc-demo-") as tmp:
        cert, key, cert_path = development_certificate(Path(tmp))
        app = build_app(ServiceCredentials(cert, key), version, keylog, trace=service_tracer("service"))
        port = _free_port()
        server = _start_server(app, port)
        url = f"http://127.0.0.1:{port}/echo"
        console.print(f"[bold]service[/] {url}  (AnonymousForCertificate bootstrap, WS-SC {sc_version})")
        console.print(f"          certificate {cert.subject.rfc4514_string()} in {cert_path}")
        try:
            _conversation(console, url, ClientBootstrap(cert), version, calls, keylog)
        finally:
            server.should_exit = True
        _negotiated(console, cert, key, version, keylog)
    console.print("[bold green]demo complete[/]")


def _negotiated(
    console: Console, cert: x509.Certificate, key: rsa.RSAPrivateKey, version: versions.SCVersion, keylog: KeyLog | None
) -> None:
    """A negotiated context (TLSNEGO, AnonymousSslNegotiated: WCF's wsHttpBinding with negotiateServiceCredential):
    the TLS handshake in RST/RSTR legs, then the session context by RST/SCT under the negotiated one."""
    negotiator = Negotiator.tlsnego(cert, key)
    credentials, trace = ServiceCredentials(cert, key), service_tracer("service")
    app = build_app(credentials, version, keylog, bootstrap="tlsnego", negotiator=negotiator, trace=trace)
    port = _free_port()
    server = _start_server(app, port)
    url = f"http://127.0.0.1:{port}/echo"
    console.print(f"[bold]service[/] {url}  (TLSNEGO negotiation, WS-SC {version.name})")
    try:
        bootstrap = NegotiatedBootstrap(tlsnego(service_certificate=cert))
        with WsscClient(url, bootstrap, version=version, keylog=keylog) as client:
            context = client.establish()
            negotiation, negotiated = bootstrap.last, bootstrap.context
            assert negotiation is not None and negotiated is not None
            tls = getattr(bootstrap.mechanism, "tls_version", "TLS")
            legs = len(negotiation.sent) + len(negotiation.received)
            console.print(
                f"[cyan]negotiate[/] {tls} in {legs} legs ({sum(negotiation.sent)} bytes sent, "
                f"{sum(negotiation.received)} received), CombinedHash verified -> context {negotiated.identifier}"
            )
            console.print(f"[cyan]establish[/] RST/SCT under the negotiated context -> context {context.identifier}")
            _calls(console, client, 1)
        console.print("[cyan]cancel[/]    RST/SCT/Cancel of the session context; the negotiated one expires")
    finally:
        server.should_exit = True


def _conversation(
    console: Console,
    url: str,
    bootstrap: ClientBootstrap,
    version: versions.SCVersion,
    calls: int,
    keylog: KeyLog | None,
) -> None:
    client = WsscClient(url, bootstrap, version=version, keylog=keylog)
    with client:
        context = client.establish()
        console.print(
            f"[cyan]establish[/] RST/SCT -> context {context.identifier}, key {len(context.key) * 8} bits, "
            f"expires {context.expires:%H:%M:%S}Z"
        )
        _calls(console, client, calls)
        renewed = client.renew()
        console.print(f"[cyan]renew[/]     RST/SCT/Renew -> same Identifier, new Instance {renewed.instance}")
        _calls(console, client, calls)
        user_cert, user_key = self_signed("demo user")
        client.amend(user_cert, user_key)
        console.print("[cyan]amend[/]     RST/SCT/Amend endorsed by X.509 'CN=demo user' -> claim added")
        _calls(console, client, 1)
        console.print(f"[cyan]validate[/]  RST/Validate -> {'valid' if client.validate() else 'invalid'}")
        stale = client.session.context
        client.cancel()
        console.print("[cyan]cancel[/]    RST/SCT/Cancel -> RequestedTokenCancelled")
        client.session.context = stale
        try:
            client.session.receive(
                client.http.post(
                    url,
                    content=client.session.request(etree.fromstring(DEMO_PAYLOAD), DEMO_ACTION),
                    headers={"Content-Type": client.session.settings.soap.content_type},
                ).content
            )
        except WsscError as error:
            console.print(
                f"[cyan]call[/]      after cancel -> rejected: [bold red]{error.prefixed_code}[/] ({error.reason})"
            )
        else:
            raise click.ClickException("a call after cancel was accepted")
        client.session.context = None


def _calls(console: Console, client: WsscClient, count: int) -> None:
    for n in range(count):
        response = client.call(etree.fromstring(DEMO_PAYLOAD), DEMO_ACTION)
        text = "".join(str(t) for t in response.body.itertext())
        signed = ",".join(response.signed_names)
        console.print(
            f"[cyan]call {n + 1}[/]    echo -> {text!r} (signed: {signed}; encrypted: "
            f"{','.join(response.encrypted_names)})"
        )
