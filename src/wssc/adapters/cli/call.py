"""``wssc call`` and ``wssc cancel``: a client of a security-context service over HTTP, its context obtained by a
bootstrap binding or negotiated (SPNEGO, TLSNEGO)."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime, timedelta, timezone

import click
from lxml import etree

from wssc import versions
from wssc.adapters.cli.conversation import (
    DEMO_ACTION,
    DEMO_PAYLOAD,
    SERVE_SUITES,
    load_certificate,
    load_private_key,
)
from wssc.adapters.cli.negotiate import NEGOTIATIONS, call_bootstrap
from wssc.adapters.http_client import WsscClient
from wssc.conversation.bootstrap import Bootstrap, ClientBootstrap, MutualCertificateBootstrap
from wssc.conversation.context import SecurityContext
from wssc.errors import WsscError
from wssc.primitives.algorithms import suite as suite_named
from wssc.primitives.xml import Element, parse
from wssc.security.addressing import action_of
from wssc.security.policy import ProtectionPolicy
from wssc.security.soap import soap_version_of, split
from wssc.trust.negotiation.spnego import PROTOCOLS


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
@click.option(
    "--server-cert",
    type=click.Path(exists=True, dir_okay=False),
    help="the service certificate (required but with --negotiate; with tlsnego it is pinned)",
)
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
def call(
    url: str,
    infile: str | None,
    server_cert: str | None,
    username: str | None,
    password: str | None,
    client_cert: str | None,
    client_key: str | None,
    sc_version: str,
    suite_name: str,
    endorse: bool,
    negotiate: str | None,
    protocol: str,
    spn: str | None,
    ca: str | None,
    no_security_context: bool,
    count: int,
    no_cancel: bool,
) -> None:
    """Establish a context, send the body COUNT times, print the responses, cancel."""
    if negotiate is None and (server_cert is None or ca or spn or no_security_context):
        raise click.UsageError("--server-cert is required; --ca, --spn, --no-security-context need --negotiate")
    if (client_cert is None) != (client_key is None):
        raise click.UsageError("--client-cert and --client-key go together")
    if (username is None) != (password is None):
        raise click.UsageError("--username and --password go together")
    if client_cert and username and negotiate is None:
        raise click.UsageError("use either --username/--password or --client-cert/--client-key")
    if endorse and not client_cert:
        raise click.UsageError("--endorse needs --client-cert and --client-key")
    body, action = _body_and_action(infile)
    if negotiate is not None:
        policy = ProtectionPolicy(suite=suite_named(suite_name))
        certificate = load_certificate(server_cert) if server_cert else None
        bootstrap = call_bootstrap(
            negotiate,
            url,
            policy,
            protocol=protocol,
            spn=spn,
            username=username,
            password=password,
            client_cert=client_cert,
            client_key=client_key,
            ca=ca,
            server_certificate=certificate,
        )
        version = versions.by_name(sc_version)
        client = WsscClient(
            url, bootstrap, version=version, policy=policy, establish_security_context=not no_security_context
        )
    else:
        assert server_cert is not None
        client = _client(url, server_cert, username, password, sc_version, client_cert, client_key, suite_name, endorse)
    try:
        for _ in range(count):
            response = client.call([_copy(e) for e in body], action)
            for element in response.payload():
                click.echo(etree.tostring(element, encoding="unicode"))
        if no_security_context:
            pass  # WCF never cancels a negotiated context: it expires
        elif no_cancel:
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
