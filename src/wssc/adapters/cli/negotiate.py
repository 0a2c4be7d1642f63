"""The command line's negotiated contexts: what ``wssc serve --bootstrap spnego|tlsnego`` and ``wssc call
--negotiate spnego|tlsnego`` build from their options (NEGOTIATION.md; WCF's credential types: Windows,
AnonymousSslNegotiated, UserNameForSslNegotiated, MutualSslNegotiated)."""

from __future__ import annotations

import os
import socket
import ssl
from urllib.parse import urlsplit

import click
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from wssc.conversation.negotiating import NegotiatedBootstrap, spnego, tlsnego
from wssc.conversation.negotiation import SPNEGO_BOOTSTRAP, TLSNEGO_BOOTSTRAP, Negotiator
from wssc.security.policy import ProtectionPolicy
from wssc.tokens.x509_trust import CertificateTrust
from wssc.trust.negotiation.spnego import PROTOCOLS
from wssc.trust.negotiation.spnego_names import target_name

NEGOTIATIONS = [SPNEGO_BOOTSTRAP, TLSNEGO_BOOTSTRAP]


def serve_negotiator(
    bootstrap: str,
    certificate: x509.Certificate,
    private_key: rsa.RSAPrivateKey,
    *,
    trust: CertificateTrust | None,
    require_client_cert: bool,
    keytab: str | None,
    spn: str | None,
    ntlm_users: str | None,
) -> Negotiator:
    """The service's negotiator: TLSNEGO with the service certificate (MutualSslNegotiated with
    ``--require-client-cert``, validated by ``--trust-anchor``/``--trust-peer``), or SPNEGO with the keytab
    (``--keytab``, default ``KRB5_KTNAME``) for ``--spn`` (default ``HTTP/<host>``) and NTLM ``--ntlm-users``."""
    if bootstrap == TLSNEGO_BOOTSTRAP:
        if require_client_cert and trust is None:
            raise click.UsageError("--require-client-cert needs --trust-anchor or --trust-peer")
        return Negotiator.tlsnego(
            certificate, private_key, client_trust=trust, require_client_certificate=require_client_cert
        )
    kerberos = keytab is not None or "KRB5_KTNAME" in os.environ
    if not kerberos and ntlm_users is None:
        raise click.UsageError("--bootstrap spnego needs --keytab (or KRB5_KTNAME) or --ntlm-users")
    protocol = "negotiate" if kerberos and ntlm_users else ("kerberos" if kerberos else "ntlm")
    spn = spn or f"HTTP/{socket.getfqdn()}"
    return Negotiator.spnego(keytab=keytab, spn=spn if kerberos else None, ntlm_users=ntlm_users, protocol=protocol)


def call_bootstrap(
    negotiate: str,
    url: str,
    policy: ProtectionPolicy,
    *,
    protocol: str,
    spn: str | None,
    username: str | None,
    password: str | None,
    credentials: tuple[x509.Certificate, rsa.RSAPrivateKey] | None,
    ca: str | None,
    server_certificate: x509.Certificate | None,
) -> NegotiatedBootstrap:
    """The client's negotiated bootstrap: SPNEGO (the current Kerberos login, or ``--username``/``--password``
    as ``DOMAIN\\user`` or a UPN; the target ``--spn``, else ``host/<URL host>`` as WCF derives it), or TLSNEGO
    (the service trusted by ``--ca`` or pinned by ``--server-cert``; ``--username``/``--password``:
    UserNameForSslNegotiated; ``--client-cert``/``--client-key``: MutualSslNegotiated)."""
    if negotiate == SPNEGO_BOOTSTRAP:
        if credentials is not None:
            raise click.UsageError("--negotiate spnego takes Windows credentials, not --client-cert")
        target = target_name(spn=spn, url_host=urlsplit(url).hostname)

        mechanism = spnego(target, username=username, password=password, protocol=protocol)
        return NegotiatedBootstrap(mechanism, policy=policy)
    if protocol != PROTOCOLS[0]:
        raise click.UsageError("--protocol is for --negotiate spnego")
    if ca is None and server_certificate is None:
        raise click.UsageError("--negotiate tlsnego needs --ca PEM or --server-cert PEM to trust the service")
    if ca is not None:
        try:
            ssl.create_default_context(cafile=ca)
        except (ssl.SSLError, OSError) as exc:
            raise click.ClickException(f"--ca {ca}: not a PEM CA bundle ({exc})") from None
    certificate, key = credentials if credentials is not None else (None, None)
    mechanism = tlsnego(
        verify=ca if ca is not None else True,
        service_certificate=server_certificate,
        client_certificate=certificate,
        client_key=key,
    )
    return NegotiatedBootstrap(mechanism, username=username, password=password, policy=policy)
