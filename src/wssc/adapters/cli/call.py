"""``wssc call`` and ``wssc cancel``: a client of a security-context service over HTTP, its context obtained by a
bootstrap binding or negotiated (SPNEGO, TLSNEGO).  Failures are one or two lines (:mod:`.failures`)."""

from __future__ import annotations

import base64
import binascii
import contextlib
from datetime import datetime, timedelta, timezone

import click
import httpx
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree

from wssc import versions
from wssc.adapters.cli.conversation import DEMO_ACTION, DEMO_PAYLOAD, SERVE_SUITES
from wssc.adapters.cli.failures import FriendlyCommand, HttpUrl, situation
from wssc.adapters.cli.files import load_certificate, load_client_credentials
from wssc.adapters.cli.negotiate import NEGOTIATIONS, call_bootstrap
from wssc.adapters.cli.session_file import load_session
from wssc.adapters.cli.session_file import save_session as write_session
from wssc.adapters.http_client import WsscClient
from wssc.conversation.bootstrap import Bootstrap, ClientBootstrap, MutualCertificateBootstrap, TransportBootstrap
from wssc.conversation.context import SecurityContext
from wssc.errors import WsscError
from wssc.primitives.algorithms import suite as suite_named
from wssc.primitives.xml import Element, parse
from wssc.security.addressing import action_of
from wssc.security.faults import read_fault
from wssc.security.policy import ProtectionPolicy
from wssc.security.result import VerifiedMessage
from wssc.security.soap import SOAP11, SOAP12, SOAPVersion, soap_version_of, split
from wssc.trust.negotiation.spnego import PROTOCOLS

SOAP_VERSIONS = {SOAP11.name: SOAP11, SOAP12.name: SOAP12}
SC_VERSIONS = ["1.3", "2005-02"]


def _input(infile: str | None) -> tuple[list[Element], str | None, SOAPVersion | None]:
    """The body elements, the wsa:Action and the SOAP version of the input: an envelope, or a bare payload."""
    if infile is None:
        return [etree.fromstring(DEMO_PAYLOAD)], None, None
    with click.open_file(infile, "rb") as source:
        data = source.read()
    name = "standard input" if infile == "-" else infile
    try:
        root = parse(data)
    except WsscError as exc:
        raise click.ClickException(f"{name}: not an XML document ({exc.detail or exc.reason})") from None
    try:
        soap = soap_version_of(root)
    except WsscError:
        return [root], None, None
    try:
        env = split(root)
    except WsscError as exc:
        raise click.ClickException(f"{name}: not a SOAP envelope wssc can send ({exc.detail or exc.reason})") from None
    return [c for c in env.body if isinstance(c.tag, str)], action_of(env.header), soap


def _client_bootstrap(
    service_cert: x509.Certificate,
    policy: ProtectionPolicy,
    username: str | None,
    password: str | None,
    credentials: tuple[x509.Certificate, rsa.RSAPrivateKey] | None,
    endorse: bool,
) -> Bootstrap:
    if credentials is not None and endorse:
        certificate, key = credentials
        return ClientBootstrap(service_cert, policy=policy, client_certificate=certificate, client_key=key)
    if credentials is not None:
        return MutualCertificateBootstrap(service_cert, *credentials, policy)
    return ClientBootstrap(service_cert, username=username, password=password, policy=policy)


def _check_options(
    negotiate: str | None,
    server_cert: str | None,
    extras: bool,
    client_cert: str | None,
    client_key: str | None,
    username: str | None,
    password: str | None,
    endorse: bool,
) -> None:
    if negotiate is None and (server_cert is None or extras):
        raise click.UsageError("--server-cert is required; --ca, --spn, --no-security-context need --negotiate")
    if client_key is not None and client_cert is None:
        raise click.UsageError("--client-key needs --client-cert")
    if (username is None) != (password is None):
        raise click.UsageError("--username and --password go together")
    if client_cert and username and negotiate is None:
        raise click.UsageError("use either --username/--password or --client-cert/--client-key")
    if endorse and not client_cert:
        raise click.UsageError("--endorse needs --client-cert")


@click.command(cls=FriendlyCommand)
@click.argument("url", type=HttpUrl())
@click.argument("infile", metavar="[IN]", required=False, type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option(
    "--server-cert",
    type=click.Path(exists=True, dir_okay=False),
    help="the service certificate, PEM or DER (required but with --negotiate; with tlsnego it is pinned)",
)
@click.option("--username", default=None)
@click.option("--password", default=None)
@click.option(
    "--client-cert",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
    help="client certificate (PEM or DER, with --client-key), or a PKCS#12 file (.pfx/.p12) holding it and its key",
)
@click.option("--client-key", default=None, type=click.Path(exists=True, dir_okay=False), help="its private key")
@click.option("--client-key-password", default=None, help="password of an encrypted --client-key or PKCS#12 file")
@click.option("--sc-version", type=click.Choice(SC_VERSIONS), default="1.3", show_default=True)
@click.option(
    "--soap",
    "soap_name",
    type=click.Choice(list(SOAP_VERSIONS)),
    default=None,
    help="SOAP version [default: the input envelope's; 1.2 for a bare payload]",
)
@click.option("--suite", "suite_name", type=click.Choice(SERVE_SUITES), default="Basic256", show_default=True)
@click.option("--action", default=None, metavar="URI", help="wsa:Action [default: the input's, else the demo's]")
@click.option(
    "--endorse",
    is_flag=True,
    help="the client certificate endorses the symmetric bootstrap (certificate-for-certificate)",
)
@click.option("--negotiate", type=click.Choice(NEGOTIATIONS), default=None, help="negotiate the context first")
@click.option(
    "--protocol", type=click.Choice(PROTOCOLS), default=PROTOCOLS[0], show_default=True, help="SPNEGO's mechanism"
)
@click.option("--spn", default=None, help="SPNEGO target (default host/<URL host>, as WCF)")
@click.option("--ca", default=None, type=click.Path(exists=True, dir_okay=False), help="TLSNEGO: CA bundle (PEM)")
@click.option(
    "--no-security-context",
    is_flag=True,
    help="protect the messages under the negotiated context itself (WCF establishSecurityContext=false)",
)
@click.option("--count", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--no-cancel", is_flag=True, help="leave the context open and print its Identifier")
@click.option(
    "--save-session",
    default=None,
    metavar="FILE",
    type=click.Path(dir_okay=False, writable=True),
    help="with --no-cancel: write the open context to FILE (JSON, mode 0600) for wssc cancel --session. "
    "FILE holds the context key: whoever reads it can act under the context until it expires",
)
def call(
    url: str,
    infile: str | None,
    server_cert: str | None,
    username: str | None,
    password: str | None,
    client_cert: str | None,
    client_key: str | None,
    client_key_password: str | None,
    sc_version: str,
    soap_name: str | None,
    suite_name: str,
    action: str | None,
    endorse: bool,
    negotiate: str | None,
    protocol: str,
    spn: str | None,
    ca: str | None,
    no_security_context: bool,
    count: int,
    no_cancel: bool,
    save_session: str | None,
) -> None:
    """Establish a context, send the body COUNT times, print the responses, cancel.

    IN is a SOAP 1.1 or 1.2 envelope or a bare payload element ("-": standard input); without it, the demo echo.
    Failures exit 1 with the URL, file or fault at cause; usage errors exit 2."""
    extras = bool(ca or spn or no_security_context)
    _check_options(negotiate, server_cert, extras, client_cert, client_key, username, password, endorse)
    if save_session is not None and not no_cancel:
        raise click.UsageError("--save-session needs --no-cancel (the saved context must stay open)")
    if save_session is not None and no_security_context:
        raise click.UsageError("--save-session needs a security context (not --no-security-context)")
    body, input_action, input_soap = _input(infile)
    soap = SOAP_VERSIONS[soap_name] if soap_name else input_soap or SOAP12
    action = action or input_action or DEMO_ACTION
    policy = ProtectionPolicy(suite=suite_named(suite_name))
    credentials = None
    if client_cert is not None:
        credentials = load_client_credentials(client_cert, client_key, client_key_password)
    certificate = load_certificate(server_cert, "--server-cert") if server_cert else None
    version = versions.by_name(sc_version)
    bootstrap: Bootstrap
    if negotiate is not None:
        situation(click.get_current_context()).negotiating = True
        bootstrap = call_bootstrap(
            negotiate,
            url,
            policy,
            protocol=protocol,
            spn=spn,
            username=username,
            password=password,
            credentials=credentials,
            ca=ca,
            server_certificate=certificate,
        )
    else:
        assert certificate is not None
        situation(click.get_current_context()).bootstrap_certificate = server_cert
        bootstrap = _client_bootstrap(certificate, policy, username, password, credentials, endorse)
    client = WsscClient(
        url, bootstrap, version=version, soap=soap, policy=policy, establish_security_context=not no_security_context
    )
    situation(click.get_current_context()).session = client.session
    try:
        for _ in range(count):
            response = client.call([_copy(e) for e in body], action)
            for element in response.payload():
                click.echo(etree.tostring(element, encoding="unicode"))
            _refuse_application_fault(response, url, client)
        if no_security_context:
            pass  # WCF never cancels a negotiated context: it expires
        elif no_cancel:
            context = client.session.context
            assert context is not None
            if save_session is not None:
                write_session(save_session, url, soap, suite_name, context)
            click.echo(context.identifier)
        elif client.session.stateless:  # a cookie-mode context: the service cannot cancel it, it expires
            context = client.session.context
            assert context is not None
            expires = f"{context.expires:%Y-%m-%d %H:%M:%S}Z"
            click.echo(f"the context is stateless (a cookie): it expires at {expires}", err=True)
        else:
            client.cancel()
    finally:
        client.http.close()


def _refuse_application_fault(response: VerifiedMessage, url: str, client: WsscClient) -> None:
    """A fault the service's application sent under the context (verified, so the service's own words): exit 1
    with its code and reason, after the context is cancelled as any call ends."""
    fault = read_fault(response.envelope)
    if fault is None:
        return
    code = fault.code.rpartition("}")[2] or fault.code
    if client.session.established and not client.session.stateless:
        with contextlib.suppress(WsscError, httpx.HTTPError):
            client.cancel()
    raise click.ClickException(f"{url} answered with an application fault: {code}: {fault.reason}")


def _copy(element: Element) -> Element:
    return etree.fromstring(etree.tostring(element, encoding="utf-8"))


@click.command(cls=FriendlyCommand)
@click.argument("url", type=HttpUrl(), required=False)
@click.option(
    "--session",
    "session_path",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
    help="the context saved by wssc call --no-cancel --save-session FILE (URL then optional)",
)
@click.option("--context-id", default=None)
@click.option("--key-b64", default=None)
@click.option("--server-cert", default=None, type=click.Path(exists=True, dir_okay=False))
@click.option("--sc-version", type=click.Choice(SC_VERSIONS), default="1.3", show_default=True)
@click.option("--instance", default=None, help="the key instance (after renewals)")
@click.option("--soap", "soap_name", type=click.Choice(list(SOAP_VERSIONS)), default=None, help="[default: 1.2]")
@click.option("--suite", "suite_name", type=click.Choice(SERVE_SUITES), default=None, help="[default: Basic256]")
def cancel(
    url: str | None,
    session_path: str | None,
    context_id: str | None,
    key_b64: str | None,
    server_cert: str | None,
    sc_version: str,
    instance: str | None,
    soap_name: str | None,
    suite_name: str | None,
) -> None:
    """Cancel a live context (RST/SCT/Cancel signed with its key).

    The context is one that wssc call --no-cancel --save-session FILE saved (--session FILE: its URL, versions
    and suite come from the file), or the one --context-id and --key-b64 name at URL."""
    if session_path is not None:
        if context_id or key_b64 or instance:
            raise click.UsageError("--session replaces --context-id, --key-b64 and --instance")
        saved = load_session(session_path)
        url = url or saved.url
        situation(click.get_current_context()).url = url
        context, soap = saved.context, SOAP_VERSIONS[soap_name] if soap_name else saved.soap
        suite_name = suite_name or saved.suite
    else:
        if url is None or context_id is None or key_b64 is None:
            raise click.UsageError("give URL, --context-id and --key-b64, or --session FILE")
        try:
            key = base64.b64decode(key_b64, validate=True)
        except (binascii.Error, ValueError):
            raise click.BadParameter("not valid base64", param_hint="--key-b64") from None
        now = datetime.now(timezone.utc)
        version = versions.by_name(sc_version)
        context = SecurityContext(context_id, key, now, now + timedelta(hours=1), version, instance)
        soap = SOAP_VERSIONS[soap_name or SOAP12.name]
    policy = ProtectionPolicy(suite=suite_named(suite_name or "Basic256"))
    # The cancel travels under the context key: the bootstrap is not used, the service certificate optional.
    bootstrap: Bootstrap = TransportBootstrap()
    if server_cert is not None:
        bootstrap = ClientBootstrap(load_certificate(server_cert, "--server-cert"), policy=policy)
    client = WsscClient(url, bootstrap, version=context.version, soap=soap, policy=policy, over_tls=False)
    client.session.context = context
    try:
        client.cancel()
    finally:
        client.http.close()
    click.echo(f"cancelled {context.identifier}")
