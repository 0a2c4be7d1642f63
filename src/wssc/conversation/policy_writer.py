"""The WS-SecurityPolicy a wssc service publishes, decided from its settings and credentials (SPEC-NOTES section
11), and the application's WSDL with it attached (WS-PolicyAttachment 1.5 section 3.1), as WCF answers ``?wsdl``.

What is published is what the service demands: every assertion comes from the ``ServiceSettings`` whose
:meth:`~wssc.conversation.settings.ServiceSettings.request_requirements` the receivers enforce, and the
bootstrap named is the one :func:`~wssc.conversation.bootstrap.require_bootstrap` insists on.  The XML itself is
written by :mod:`wssc.policy.writer`, which knows WS-SecurityPolicy and not the service: this module stays in the
conversation layer because the service's settings, credentials and bootstrap names live here, and the policy
package below must not import them.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Final

from wssc.conversation.bootstrap import (
    ANONYMOUS_FOR_CERTIFICATE,
    CERTIFICATE_FOR_CERTIFICATE,
    MUTUAL_CERTIFICATE,
    USERNAME_FOR_CERTIFICATE,
    ServiceCredentials,
)
from wssc.conversation.negotiation import TLSNEGO_BOOTSTRAP, Negotiator
from wssc.conversation.settings import ServiceSettings, encrypts_signature
from wssc.policy.security_policy import BindingKind, TokenKind
from wssc.policy.writer import PublishedPolicy, attach_policy, endpoint_policy
from wssc.primitives.xml import Element

#: Each bootstrap's binding (WS-SP 1.2 sections 7.4, 7.5) and supporting token (sections 8.3, 8.4).
_BOOTSTRAP_SHAPES: Final[dict[str, tuple[BindingKind, TokenKind | None]]] = {
    ANONYMOUS_FOR_CERTIFICATE: (BindingKind.SYMMETRIC, None),
    USERNAME_FOR_CERTIFICATE: (BindingKind.SYMMETRIC, TokenKind.USERNAME),
    CERTIFICATE_FOR_CERTIFICATE: (BindingKind.SYMMETRIC, TokenKind.X509),
    MUTUAL_CERTIFICATE: (BindingKind.ASYMMETRIC, None),
}


def published_bootstrap(credentials: ServiceCredentials, settings: ServiceSettings) -> str:
    """The bootstrap a service publishes: its settings' when named, else the one its credentials suggest."""
    if settings.bootstrap is not None:
        return settings.bootstrap
    if credentials.users is not None:
        return USERNAME_FOR_CERTIFICATE
    return CERTIFICATE_FOR_CERTIFICATE if credentials.client_trust is not None else ANONYMOUS_FOR_CERTIFICATE


def published_policy(
    credentials: ServiceCredentials, settings: ServiceSettings, negotiator: Negotiator | None = None
) -> PublishedPolicy:
    """What the service publishes, in WS-SP terms: :func:`published_bootstrap`'s binding and supporting token,
    and the settings' protection, version and entropy mode; with a ``negotiator``, the negotiation
    (:func:`negotiated_policy`: UserNameForSsl when the credentials hold users)."""
    if negotiator is not None:
        username = negotiator.bootstrap == TLSNEGO_BOOTSTRAP and credentials.users is not None
        return negotiated_policy(
            settings,
            negotiator.bootstrap,
            require_client_certificate=negotiator.require_client_certificate,
            username=username,
        )
    binding, supporting = _BOOTSTRAP_SHAPES.get(
        published_bootstrap(credentials, settings), (BindingKind.SYMMETRIC, None)
    )
    return replace(_settings_policy(settings), bootstrap_binding=binding, supporting=supporting)


def negotiated_policy(
    settings: ServiceSettings,
    mechanism: str,
    *,
    require_client_certificate: bool = False,
    username: bool = False,
    establish_security_context: bool = True,
) -> PublishedPolicy:
    """What a service negotiating its contexts publishes (NEGOTIATION.md sections 4-5), in WS-SP terms: the
    symmetric binding over a SpnegoContextToken (``mechanism`` :data:`~wssc.policy.kinds.SPNEGO_MECHANISM`) or
    ``mssp:SslContextToken`` (:data:`~wssc.policy.kinds.TLSNEGO_MECHANISM`, with ``require_client_certificate``
    for MutualSslNegotiated), a signed-encrypted UsernameToken beside it when ``username`` (UserNameForSsl), as
    the bootstrap of a SecureConversationToken or, without ``establish_security_context``, as the endpoint's
    binding; and the settings' protection, version and entropy mode."""
    return replace(
        _settings_policy(settings),
        negotiation=mechanism,
        require_client_certificate=require_client_certificate,
        supporting=TokenKind.USERNAME if username else None,
        establish_security_context=establish_security_context,
    )


def _settings_policy(settings: ServiceSettings) -> PublishedPolicy:
    """The settings' protection, version, entropy mode and addressing signature, as published."""
    return PublishedPolicy(
        protection=settings.policy,
        version=settings.version,
        entropy_mode=settings.entropy_mode,
        encrypt_signature=encrypts_signature(settings.policy),
        signed_addressing=not settings.unsigned_addressing,
    )


def service_policy(
    credentials: ServiceCredentials, settings: ServiceSettings, negotiator: Negotiator | None = None
) -> Element:
    """The endpoint policy (``wsu:Id`` :data:`~wssc.policy.writer.POLICY_ID`): a SecureConversationToken whose
    bootstrap is :func:`published_bootstrap`: the symmetric binding over the service certificate, with a
    signed-encrypted UsernameToken (UserNameForCertificate) or the client's X.509 token endorsing
    (certificate-for-certificate), or the asymmetric MutualCertificate binding.  Every assertion is one the
    service enforces (:meth:`ServiceSettings.request_requirements`)."""
    return endpoint_policy(published_policy(credentials, settings, negotiator))


def publish_wsdl(
    wsdl: bytes,
    credentials: ServiceCredentials,
    settings: ServiceSettings,
    address: str | None = None,
    negotiator: Negotiator | None = None,
) -> bytes:
    """``wsdl`` with :func:`service_policy` attached to each of its bindings and the service certificate as
    each port's endpoint identity (``wsa10:EndpointReference/Identity/KeyInfo/X509Data``); ``address``, when
    given, replaces every port's SOAP address (the URL the document was asked from, as WCF answers ``?wsdl``)."""
    spn = negotiator.spn if negotiator is not None else None
    policy = service_policy(credentials, settings, negotiator)
    return attach_policy(wsdl, policy, credentials.certificate, address, spn=spn)
