"""``wssc serve``, ``wssc call``, ``wssc cancel`` and ``wssc demo``: security contexts over HTTP."""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import click
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree

from wssc import versions
from wssc.adapters.asgi import WsscApp, echo_handler
from wssc.adapters.http_client import WsscClient
from wssc.adapters.keylog import KeyLog
from wssc.adapters.throttle import MAX_CONCURRENT_CALLS, MAX_QUEUED_CALLS, WorkerPool
from wssc.conversation.bootstrap import (
    ANONYMOUS_FOR_CERTIFICATE,
    BOOTSTRAP_NAMES,
    CERTIFICATE_FOR_CERTIFICATE,
    MUTUAL_CERTIFICATE,
    USERNAME_FOR_CERTIFICATE,
    Bootstrap,
    ClientBootstrap,
    MutualCertificateBootstrap,
    ServiceCredentials,
)
from wssc.conversation.context import SecurityContext
from wssc.conversation.sealing import ContextSeal
from wssc.conversation.service import SecureConversationService, ServiceSettings
from wssc.conversation.store import ContextStore
from wssc.errors import WsscError
from wssc.primitives.algorithms import BASIC256, AlgorithmSuite
from wssc.primitives.algorithms import suite as suite_named
from wssc.primitives.xml import Element, parse
from wssc.security.addressing import action_of
from wssc.security.policy import ProtectionPolicy
from wssc.security.replay import ReplayCache
from wssc.security.soap import soap_version_of, split
from wssc.tokens.x509 import self_signed
from wssc.tokens.x509_trust import CertificateTrust

DEMO_ACTION = "urn:wssc:demo:echo"
DEMO_PAYLOAD = b'<echo xmlns="urn:wssc:demo">hello from wssc</echo>'
#: the demo service's contract, published at ``/echo?wsdl`` with the security policy (zeep reads it)
DEMO_WSDL = b"""<definitions xmlns="http://schemas.xmlsoap.org/wsdl/" xmlns:soap12="http://schemas.xmlsoap.org/wsdl/soap12/"
 xmlns:tns="urn:wssc:demo" xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:wssc:demo">
 <types><xs:schema targetNamespace="urn:wssc:demo" elementFormDefault="qualified">
  <xs:element name="echo" type="xs:string"/></xs:schema></types>
 <message name="EchoMessage"><part name="parameters" element="tns:echo"/></message>
 <portType name="Echo"><operation name="Echo"><input message="tns:EchoMessage"/><output message="tns:EchoMessage"/>
 </operation></portType>
 <binding name="EchoBinding" type="tns:Echo"><soap12:binding transport="http://schemas.xmlsoap.org/soap/http"/>
  <operation name="Echo"><soap12:operation soapAction="urn:wssc:demo:echo" style="document"/>
   <input><soap12:body use="literal"/></input><output><soap12:body use="literal"/></output></operation></binding>
 <service name="EchoService"><port name="Echo" binding="tns:EchoBinding"><soap12:address location="http://localhost/echo"/>
 </port></service>
</definitions>"""
BOOTSTRAPS = list(BOOTSTRAP_NAMES)
#: the suites ``wssc serve --suite`` publishes and demands (WS-SP 1.2 section 6.1)
SERVE_SUITES = ["Basic256", "Basic128", "Basic256Sha256", "Basic128Sha256", "Basic256Rsa15", "Basic128Rsa15"]


def load_certificate(path: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(Path(path).read_bytes())


def load_private_key(path: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise click.BadParameter("only RSA keys are supported", param_hint="--key")
    return key


def development_certificate(directory: Path) -> tuple[x509.Certificate, rsa.RSAPrivateKey, Path]:
    """Generate (once) a self-signed service certificate under ``directory``."""
    cert_path, key_path = directory / "service-cert.pem", directory / "service-key.pem"
    if cert_path.exists() and key_path.exists():
        return load_certificate(str(cert_path)), load_private_key(str(key_path)), cert_path
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = self_signed("wssc development service")
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.touch(mode=0o600)
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert, key, cert_path


def read_users(path: str) -> dict[str, str]:
    """``name:password`` per line; blank lines and ``#`` comments ignored."""
    users = {}
    for raw in Path(path).read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            name, sep, password = line.partition(":")
            if not sep:
                raise click.BadParameter(f"expected name:password, got {line!r}", param_hint="--users")
            users[name] = password
    return users


def build_app(
    credentials: ServiceCredentials,
    version: versions.SCVersion,
    keylog: KeyLog | None = None,
    redis_url: str | None = None,
    stateless: bool = False,
    bootstrap: str = ANONYMOUS_FOR_CERTIFICATE,
    suite: AlgorithmSuite = BASIC256,
    pool: WorkerPool | None = None,
) -> WsscApp:
    """The demo echo service: any SOAP 1.1/1.2 message, with or without WS-Addressing, whose Body and
    Timestamp are signed and whose Body is encrypted under a context (WS-A headers need not be signed, and
    the published policy says so).  ``bootstrap`` and ``suite`` are published at ``/echo?wsdl`` and demanded
    of every request.  With ``redis_url`` its contexts and replay cache live in Redis, shared with the other
    nodes; ``stateless`` contexts live in their own SCTs, sealed with the farm's key; ``pool`` bounds the
    requests it works on."""
    seal = seal_from_environment() if stateless else None
    settings = ServiceSettings(
        version=version,
        policy=ProtectionPolicy(suite=suite),
        bootstrap=bootstrap,
        unsigned_addressing=True,
        stateless=seal,
    )
    store: ContextStore | None = None
    replays: ReplayCache | None = None
    if redis_url is not None:
        try:
            from wssc.adapters.redis_store import farm_store
        except ImportError:
            raise click.UsageError("--redis needs redis-py: pip install 'wssc[redis]'") from None

        store, replays = farm_store(redis_url, seal_from_environment())
    service = SecureConversationService(credentials, store, settings, on_new_key=keylog, replay_cache=replays)
    return WsscApp(service, default=echo_handler, path="/echo", wsdl=DEMO_WSDL, pool=pool)


def seal_from_environment() -> ContextSeal:
    """The farm's sealing key: ``WSSC_SEAL_KEY`` (32 bytes, base64), older keys in ``WSSC_SEAL_KEYS_PREVIOUS``
    (comma-separated) while contexts sealed under them may still be live."""
    try:
        key = base64.b64decode(os.environ["WSSC_SEAL_KEY"], validate=True)
        older = [
            base64.b64decode(k, validate=True) for k in os.environ.get("WSSC_SEAL_KEYS_PREVIOUS", "").split(",") if k
        ]
        return ContextSeal(key, previous_keys=older)
    except KeyError:
        raise click.UsageError("needs WSSC_SEAL_KEY: 32 random bytes (base64), the same on every node") from None
    except ValueError as exc:
        raise click.UsageError(f"WSSC_SEAL_KEY: {exc}") from None


def _pem_files(flag: str, name: str, text: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """A repeatable option naming PEM files."""
    kind = click.Path(exists=True, dir_okay=False)
    return click.option(flag, name, multiple=True, type=kind, help=text + " (repeatable)")


def _pool_bound(
    flag: str, minimum: int, default: int, text: str
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """An option bounding the worker pool (:mod:`wssc.adapters.throttle`)."""
    return click.option(flag, type=click.IntRange(min=minimum), default=default, show_default=True, help=text)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8080, show_default=True)
@click.option("--sc-version", type=click.Choice(["1.3", "2005-02"]), default="1.3", show_default=True)
@click.option("--cert", "cert_path", type=click.Path(exists=True, dir_okay=False), default=None)
@click.option("--key", "key_path", type=click.Path(exists=True, dir_okay=False), default=None)
@click.option("--bootstrap", type=click.Choice(BOOTSTRAPS), default=ANONYMOUS_FOR_CERTIFICATE, show_default=True)
@click.option("--users", type=click.Path(exists=True, dir_okay=False), default=None, help="name:password lines")
@click.option(
    "--suite",
    "suite_name",
    type=click.Choice(SERVE_SUITES),
    default="Basic256",
    show_default=True,
    help="algorithm suite, published at /echo?wsdl and demanded of every request",
)
@_pem_files("--trust-anchor", "anchors", "PEM CA certificate: client certificates must chain to one")
@_pem_files("--intermediate", "intermediates", "PEM intermediate CA certificate for --trust-anchor paths")
@_pem_files("--trust-peer", "peers", "PEM client certificate accepted as is")
@click.option(
    "--redis", "redis_url", default=None, help="redis://... : share contexts and replay detection with other nodes"
)
@click.option("--stateless", is_flag=True, help="issue cookie-mode contexts sealed with WSSC_SEAL_KEY; store nothing")
@_pool_bound("--workers", 1, MAX_CONCURRENT_CALLS, "requests verified and answered at once (WCF MaxConcurrentCalls)")
@_pool_bound("--queue", 0, MAX_QUEUED_CALLS, "requests waiting for a worker; beyond them HTTP 503")
def serve(
    host: str,
    port: int,
    sc_version: str,
    cert_path: str | None,
    key_path: str | None,
    bootstrap: str,
    users: str | None,
    suite_name: str,
    anchors: tuple[str, ...],
    intermediates: tuple[str, ...],
    peers: tuple[str, ...],
    redis_url: str | None,
    stateless: bool,
    workers: int,
    queue: int,
) -> None:
    """Run the demo echo service at /echo under WS-SecureConversation."""
    import uvicorn

    if (cert_path is None) != (key_path is None):
        raise click.UsageError("--cert and --key go together")
    if cert_path and key_path:
        cert, key = load_certificate(cert_path), load_private_key(key_path)
    else:
        cert, key, where = development_certificate(Path.cwd() / "wssc-dev")
        click.echo(f"development certificate: {where} (give it to clients with --server-cert)", err=True)
    user_table = None
    if bootstrap == USERNAME_FOR_CERTIFICATE:
        if users is None:
            raise click.UsageError("--bootstrap username-for-certificate needs --users FILE")
        user_table = read_users(users)
    trust = None
    if anchors or peers:
        trust = CertificateTrust(
            peers=[load_certificate(p) for p in peers],
            anchors=[load_certificate(p) for p in anchors],
            intermediates=[load_certificate(p) for p in intermediates],
        )
    elif intermediates:
        raise click.UsageError("--intermediate needs --trust-anchor")
    elif bootstrap in (MUTUAL_CERTIFICATE, CERTIFICATE_FOR_CERTIFICATE):
        click.echo(
            f"{bootstrap} without --trust-anchor or --trust-peer: any client certificate whose "
            "signature verifies is accepted; its subject is the caller's claim",
            err=True,
        )
    credentials = ServiceCredentials(cert, key, user_table, client_trust=trust)
    keylog = KeyLog.from_environment()
    suite = suite_named(suite_name)
    pool = WorkerPool(workers, queue)
    app = build_app(credentials, versions.by_name(sc_version), keylog, redis_url, stateless, bootstrap, suite, pool)
    click.echo(f"serving http://{host}:{port}/echo ({bootstrap}, {suite_name}, WS-SC {sc_version})", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")


def _body_and_action(infile: str | None) -> tuple[list[Element], str]:
    if infile is None:
        return [etree.fromstring(DEMO_PAYLOAD)], DEMO_ACTION
    data = click.open_file(infile, "rb").read()
    root = parse(data)
    try:
        soap_version_of(root)
    except WsscError:
        return [root], DEMO_ACTION
    env = split(root)
    return [c for c in env.body if isinstance(c.tag, str)], action_of(env.header) or DEMO_ACTION


def _client(
    url: str,
    server_cert: str,
    username: str | None,
    password: str | None,
    sc_version: str,
    client_cert: str | None = None,
    client_key: str | None = None,
    suite_name: str = "Basic256",
    endorse: bool = False,
) -> WsscClient:
    service_cert = load_certificate(server_cert)
    policy = ProtectionPolicy(suite=suite_named(suite_name))
    bootstrap: Bootstrap
    if client_cert and client_key and endorse:
        certificate, key = load_certificate(client_cert), load_private_key(client_key)
        bootstrap = ClientBootstrap(service_cert, policy=policy, client_certificate=certificate, client_key=key)
    elif client_cert and client_key:
        bootstrap = MutualCertificateBootstrap(
            service_cert, load_certificate(client_cert), load_private_key(client_key), policy
        )
    else:
        bootstrap = ClientBootstrap(service_cert, username=username, password=password, policy=policy)
    return WsscClient(url, bootstrap, version=versions.by_name(sc_version), policy=policy)


@click.command()
@click.argument("url")
@click.argument("infile", metavar="[IN]", required=False)
@click.option("--server-cert", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--username", default=None)
@click.option("--password", default=None)
@click.option("--client-cert", default=None, type=click.Path(exists=True, dir_okay=False))
@click.option("--client-key", default=None, type=click.Path(exists=True, dir_okay=False))
@click.option("--sc-version", type=click.Choice(["1.3", "2005-02"]), default="1.3", show_default=True)
@click.option("--suite", "suite_name", type=click.Choice(SERVE_SUITES), default="Basic256", show_default=True)
@click.option(
    "--endorse",
    is_flag=True,
    help="the client certificate endorses the symmetric bootstrap (certificate-for-certificate)",
)
@click.option("--count", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--no-cancel", is_flag=True, help="leave the context open and print its Identifier")
def call(
    url: str,
    infile: str | None,
    server_cert: str,
    username: str | None,
    password: str | None,
    client_cert: str | None,
    client_key: str | None,
    sc_version: str,
    suite_name: str,
    endorse: bool,
    count: int,
    no_cancel: bool,
) -> None:
    """Establish a context, send the body COUNT times, print the responses, cancel."""
    if (client_cert is None) != (client_key is None):
        raise click.UsageError("--client-cert and --client-key go together")
    if (username is None) != (password is None):
        raise click.UsageError("--username and --password go together")
    if client_cert and username:
        raise click.UsageError("use either --username/--password or --client-cert/--client-key")
    if endorse and not client_cert:
        raise click.UsageError("--endorse needs --client-cert and --client-key")
    body, action = _body_and_action(infile)
    client = _client(url, server_cert, username, password, sc_version, client_cert, client_key, suite_name, endorse)
    try:
        for _ in range(count):
            response = client.call([_copy(e) for e in body], action)
            for element in response.payload():
                click.echo(etree.tostring(element, encoding="unicode"))
        if no_cancel:
            assert client.session.context is not None
            click.echo(client.session.context.identifier)
        else:
            client.cancel()
    except WsscError as error:
        raise click.ClickException(f"{error.prefixed_code}: {error.reason}") from None
    finally:
        client.http.close()


def _copy(element: Element) -> Element:
    return etree.fromstring(etree.tostring(element))


@click.command()
@click.argument("url")
@click.option("--context-id", required=True)
@click.option("--key-b64", required=True)
@click.option("--server-cert", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--sc-version", type=click.Choice(["1.3", "2005-02"]), default="1.3", show_default=True)
@click.option("--instance", default=None, help="the key instance (after renewals)")
def cancel(url: str, context_id: str, key_b64: str, server_cert: str, sc_version: str, instance: str | None) -> None:
    """Cancel a live context (RST/SCT/Cancel signed with its key)."""
    try:
        key = base64.b64decode(key_b64, validate=True)
    except (binascii.Error, ValueError):
        raise click.BadParameter("not valid base64", param_hint="--key-b64") from None
    client = _client(url, server_cert, None, None, sc_version)
    now = datetime.now(timezone.utc)
    version = versions.by_name(sc_version)
    client.session.context = SecurityContext(context_id, key, now, now + timedelta(hours=1), version, instance)
    try:
        client.cancel()
    except WsscError as error:
        raise click.ClickException(f"{error.prefixed_code}: {error.reason}") from None
    finally:
        client.http.close()
    click.echo(f"cancelled {context_id}")
