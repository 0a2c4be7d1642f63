"""``wssc demo``: a service and a client in one process, over loopback HTTP, through a context's whole life:
establish, calls, renew, amend, more calls, validate, cancel, and a call after cancel that the service
rejects with ``wsc:BadContextToken``; then a context negotiated by TLSNEGO.  Nothing else is needed on the machine.

It is written for someone who has never read WS-Trust: each message is a line, ``→`` what the client sends and
``←`` what comes back; each protocol term is explained in plain words the first time it appears
(:data:`TERMS`); times are dated, in UTC, as the tokens carry them (WS-SC 1.3 section 3, ``wsu:Expires``)."""

from __future__ import annotations

import socket
import tempfile
import textwrap
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Final

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

#: the protocol's words, in plain words: printed after the first line that uses each one, never again
#: (the demo's output test checks each appears exactly once)
TERMS: Final = {
    "context": "a security context, WS-SecureConversation's subject, is a key the client and the service share for "
    "a while, so that the messages after the first are protected cheaply, by that key alone",
    "bootstrap": "the bootstrap is how the first request is protected, before any context exists: here it is "
    "encrypted to the service's certificate and the client stays anonymous",
    "RST/SCT": "RST/SCT is the request for a context, a WS-Trust RequestSecurityToken of a SecurityContextToken; "
    "the answer, the RSTR, carries the context's token, its name, and its key",
    "derived keys": "derived keys are computed from the context key and a fresh nonce for each message, so the "
    "context key itself never signs or encrypts anything",
    "renew": "renew replaces the key and extends the life of a context; its Identifier stays",
    "amend": "amend adds a claim, here a certificate proving who the caller is, to a live context",
    "validate": "validate asks the service whether the context is still good",
    "cancel": "cancel asks the service to forget the context; nothing it protected can be accepted after",
    "negotiation": "negotiation, here TLSNEGO, runs a TLS handshake inside SOAP messages: the service's "
    "certificate comes in the handshake, and the keys TLS agrees on become a context",
}
REQUEST: Final = "[cyan]→ request [/] "
RESPONSE: Final = "[green]← response[/] "
#: where an explanation starts, and the width it is wrapped to
INDENT: Final = " " * 11
WIDTH: Final = 100


class Narrator:
    """Prints the demo: a request or a response per line, a term's explanation after its first use."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.explained: set[str] = set()

    def say(self, line: str, *terms: str) -> None:
        self.console.print(line, highlight=False)
        for term in terms:
            if term not in self.explained:
                self.explained.add(term)
                text = textwrap.fill(f"({TERMS[term]})", WIDTH, initial_indent=INDENT, subsequent_indent=INDENT + " ")
                self.console.print(text, style="dim", highlight=False, markup=False)

    def request(self, text: str, *terms: str) -> None:
        self.say(REQUEST + text, *terms)

    def response(self, text: str, *terms: str) -> None:
        self.say(RESPONSE + text, *terms)


def dated(moment: datetime) -> str:
    """A token's time with its date, in UTC as it travels, and how far ahead it is."""
    minutes = max(0, round((moment - datetime.now(timezone.utc)).total_seconds() / 60))
    ahead = f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"
    return f"{moment:%Y-%m-%d %H:%M:%S}Z (in {ahead})"


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
    say = Narrator(Console(soft_wrap=True))
    version = versions.by_name(sc_version)
    keylog = KeyLog.from_environment()
    with tempfile.TemporaryDirectory(prefix="wssc-demo-") as tmp:
        cert, key, cert_path = development_certificate(Path(tmp))
        app = build_app(ServiceCredentials(cert, key), version, keylog, trace=service_tracer("service"))
        port = _free_port()
        server = _start_server(app, port)
        url = f"http://127.0.0.1:{port}/echo"
        say.say(f"[bold]service[/] {url}: an echo service, WS-SecureConversation {sc_version}")
        say.say(f"        its certificate {cert.subject.rfc4514_string()} is in {cert_path}")
        say.say("        bootstrap: AnonymousForCertificate", "bootstrap")
        try:
            _conversation(say, url, ClientBootstrap(cert), version, calls, keylog)
        finally:
            server.should_exit = True
        _negotiated(say, cert, key, version, keylog)
    say.say("[bold green]demo complete[/]")


def _negotiated(
    say: Narrator, cert: x509.Certificate, key: rsa.RSAPrivateKey, version: versions.SCVersion, keylog: KeyLog | None
) -> None:
    """A negotiated context (TLSNEGO, AnonymousSslNegotiated: WCF's wsHttpBinding with negotiateServiceCredential):
    the TLS handshake in RST/RSTR legs, then the session context by RST/SCT under the negotiated one."""
    negotiator = Negotiator.tlsnego(cert, key)
    credentials, trace = ServiceCredentials(cert, key), service_tracer("service")
    app = build_app(credentials, version, keylog, bootstrap="tlsnego", negotiator=negotiator, trace=trace)
    port = _free_port()
    server = _start_server(app, port)
    url = f"http://127.0.0.1:{port}/echo"
    say.say("")
    say.say(f"[bold]service[/] {url}: the same echo service, its contexts negotiated", "negotiation")
    try:
        bootstrap = NegotiatedBootstrap(tlsnego(service_certificate=cert))
        with WsscClient(url, bootstrap, version=version, keylog=keylog) as client:
            context = client.establish()
            negotiation, negotiated = bootstrap.last, bootstrap.context
            assert negotiation is not None and negotiated is not None
            tls = getattr(bootstrap.mechanism, "tls_version", "TLS")
            for leg, sent in enumerate(negotiation.sent, 1):
                say.request(f"RST leg {leg}: {sent} bytes of {tls} handshake")
                if leg <= len(negotiation.received):
                    say.response(f"RSTR leg {leg}: {negotiation.received[leg - 1]} bytes of {tls} handshake")
            say.say(f"{INDENT}handshake done; the service's CombinedHash, its proof that both sides saw the same")
            say.say(f"{INDENT}handshake, verified: negotiated context {negotiated.identifier}")
            say.request("RST/SCT, protected by the negotiated context")
            say.response(f"session context {context.identifier}, expires {dated(context.expires)}")
            _calls(say, client, 1)
            say.request("RST/SCT/Cancel of the session context")
        say.response("cancelled; the negotiated context is left to expire")
    finally:
        server.should_exit = True


def _conversation(
    say: Narrator,
    url: str,
    bootstrap: ClientBootstrap,
    version: versions.SCVersion,
    calls: int,
    keylog: KeyLog | None,
) -> None:
    client = WsscClient(url, bootstrap, version=version, keylog=keylog)
    with client:
        say.request("RST/SCT, encrypted to the service's certificate", "RST/SCT")
        context = client.establish()
        say.response(
            f"context {context.identifier}, a {len(context.key) * 8}-bit key, expires {dated(context.expires)}",
            "context",
        )
        _calls(say, client, calls)
        say.request("RST/SCT/Renew", "renew")
        renewed = client.renew()
        say.response(f"same Identifier, new key Instance {renewed.instance}, expires {dated(renewed.expires)}")
        _calls(say, client, calls)
        user_cert, user_key = self_signed("demo user")
        say.request("RST/SCT/Amend, signed by the caller's certificate 'CN=demo user'", "amend")
        client.amend(user_cert, user_key)
        say.response("claim added to the context")
        _calls(say, client, 1)
        say.request("RST/Validate", "validate")
        say.response("valid" if client.validate() else "invalid")
        stale = client.session.context
        say.request("RST/SCT/Cancel", "cancel")
        client.cancel()
        say.response("RequestedTokenCancelled: the service has forgotten the context")
        client.session.context = stale
        say.request("echo, under the cancelled context")
        try:
            client.session.receive(
                client.http.post(
                    url,
                    content=client.session.request(etree.fromstring(DEMO_PAYLOAD), DEMO_ACTION),
                    headers={"Content-Type": client.session.settings.soap.content_type},
                ).content
            )
        except WsscError as error:
            say.response(
                f"refused: [bold red]{error.prefixed_code}[/] ({error.reason}): the context no longer exists at "
                "the service, so it has no key to check the message with"
            )
        else:
            raise click.ClickException("a call after cancel was accepted")
        client.session.context = None


def _calls(say: Narrator, client: WsscClient, count: int) -> None:
    for n in range(count):
        say.request(f"echo {n + 1}, signed and encrypted with keys derived from the context key", "derived keys")
        response = client.call(etree.fromstring(DEMO_PAYLOAD), DEMO_ACTION)
        text = "".join(str(t) for t in response.body.itertext())
        signed = ", ".join(response.signed_names)
        say.response(f"echo {text!r} (signed: {signed}; encrypted: {', '.join(response.encrypted_names)})")
