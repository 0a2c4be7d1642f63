"""Writing the WS-SecurityPolicy a secure-conversation endpoint publishes (WS-SP 1.2 sections 5-10; what WCF's
``wsHttpBinding`` with ``establishSecurityContext=true`` and ``negotiateServiceCredential=false`` publishes,
SPEC-NOTES section 11), and attaching it to a WSDL 1.1 document (WS-PolicyAttachment 1.5 section 3.1,
wsdl:binding subject) with the service certificate as the ports' endpoint identity, as WCF does.

This module is the pure part: it writes what a :class:`PublishedPolicy` says, in WS-SP terms (the bootstrap's
binding and supporting token, the protection, the WS-SC version, the entropy mode).  A negotiated bootstrap
(NEGOTIATION.md; WCF ``negotiateServiceCredential=true`` or Windows credentials) puts a SpnegoContextToken or
WCF's ``mssp:SslContextToken`` where the service's X.509 token was, as WCF's exporter writes them
(``WSSecurityPolicy12``: RequireDerivedKeys, MustNotSendCancel, RequireClientCertificate, MustNotSendAmend,
MustNotSendRenew; ``WSSecurityPolicy11``: RequireDerivedKeys, ``mssp:MustNotSendCancel`` for a cookie context,
RequireClientCertificate).  Without a security context (WCF ``establishSecurityContext=false``) the bootstrap's
binding is the endpoint's own.  Which policy a running service publishes is decided from its settings and
credentials in the conversation layer (:mod:`wssc.conversation.policy_writer`), so this package never imports
the service's settings.  Clients that read policy (WCF's svcutil, :mod:`wssc.policy.wsdl`) configure themselves
from it.  The SP namespace follows the WS-SC version: SP 1.2 with WS-SC 1.3 (Trust13), SP 2005/07 with February
2005 (Trust10).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Final

from cryptography import x509 as crypto_x509
from cryptography.hazmat.primitives import serialization
from lxml import etree

from wssc import namespaces as ns
from wssc.errors import InvalidSecurity
from wssc.policy.kinds import SPNEGO_MECHANISM, TLSNEGO_MECHANISM, BindingKind, TokenKind
from wssc.primitives.xml import Element, parse
from wssc.security.policy import ProtectionOrder, ProtectionPolicy
from wssc.trust.entropy import EntropyMode
from wssc.versions import SC_1_3, SCVersion

_WSP: Final = "http://schemas.xmlsoap.org/ws/2004/09/policy"
_WSDL: Final = "http://schemas.xmlsoap.org/wsdl/"
_WSAW: Final = "http://www.w3.org/2006/05/addressing/wsdl"
_IDENTITY: Final = "http://schemas.xmlsoap.org/ws/2006/02/addressingidentity"
_WSA_HEADERS: Final = ("To", "From", "FaultTo", "ReplyTo", "MessageID", "RelatesTo", "Action")
POLICY_ID: Final = "wssc_SecureConversation_policy"


@dataclass(frozen=True)
class PublishedPolicy:
    """What an endpoint policy says: a SecureConversationToken (WS-SP 1.2 section 5.4.7) over a symmetric binding
    with ``protection``'s options, whose bootstrap policy is ``bootstrap_binding`` (symmetric over the service's
    X.509 token, section 7.4, or asymmetric MutualCertificate, section 7.5) with ``supporting`` as its supporting
    token on the symmetric binding (``USERNAME``: SignedEncryptedSupportingTokens, section 8.4; ``X509``:
    EndorsingSupportingTokens, section 8.3; None: none).  ``encrypt_signature`` publishes ``sp:EncryptSignature``
    (section 6.4); ``signed_addressing`` lists the WS-Addressing headers among the application messages'
    SignedParts (the bootstrap's follow ``protection.sign_addressing_headers``)."""

    protection: ProtectionPolicy
    version: SCVersion = SC_1_3
    entropy_mode: EntropyMode = EntropyMode.COMBINED
    bootstrap_binding: BindingKind = BindingKind.SYMMETRIC
    supporting: TokenKind | None = None
    encrypt_signature: bool = False
    signed_addressing: bool = True
    #: :data:`~wssc.policy.kinds.SPNEGO_MECHANISM` or :data:`~wssc.policy.kinds.TLSNEGO_MECHANISM`: the symmetric
    #: bootstrap's protection token is negotiated (SpnegoContextToken, ``mssp:SslContextToken``) instead of the
    #: service's X.509 token; ``supporting`` may then only be ``USERNAME`` (WCF UserNameForSslNegotiated)
    negotiation: str | None = None
    #: TLSNEGO with a client certificate (WCF MutualSslNegotiated, ``mssp:RequireClientCertificate``)
    require_client_certificate: bool = False
    #: False: no SecureConversationToken, the bootstrap's binding protects every message (WCF
    #: ``establishSecurityContext=false``)
    establish_security_context: bool = True
    #: the negotiated context can be cancelled (WCF RequireCancellation); False: a cookie context
    #: (NEGOTIATION.md section 4), for which SP 2005/07 publishes ``mssp:MustNotSendCancel``
    require_cancellation: bool = True

    def __post_init__(self) -> None:
        if self.negotiation not in (None, SPNEGO_MECHANISM, TLSNEGO_MECHANISM):
            raise ValueError(f"unknown negotiation {self.negotiation!r}; {SPNEGO_MECHANISM} or {TLSNEGO_MECHANISM}")
        if self.require_client_certificate and self.negotiation != TLSNEGO_MECHANISM:
            raise ValueError("a client certificate is required only by TLSNEGO (MutualSslNegotiated)")
        negotiated = self.negotiation is not None
        if negotiated and (self.bootstrap_binding is not BindingKind.SYMMETRIC or self.supporting is TokenKind.X509):
            raise ValueError("a negotiated bootstrap is a symmetric binding, with at most a UsernameToken")


def _layout(policy: ProtectionPolicy, encrypt_signature: bool) -> str:
    """The suite, layout and protection flags of a binding (sections 6.1-6.5, 7.4-7.5)."""
    flags = "<sp:IncludeTimestamp/>" if policy.include_timestamp else ""
    flags += "<sp:EncryptBeforeSigning/>" if policy.order is ProtectionOrder.ENCRYPT_BEFORE_SIGN else ""
    flags += "<sp:EncryptSignature/>" if encrypt_signature else ""
    return (
        f"<sp:AlgorithmSuite><wsp:Policy><sp:{policy.suite.name}/></wsp:Policy></sp:AlgorithmSuite>"
        f"<sp:Layout><wsp:Policy><sp:Strict/></wsp:Policy></sp:Layout>{flags}<sp:OnlySignEntireHeadersAndBody/>"
    )


def _binding(token: str, published: PublishedPolicy) -> str:
    """An sp:SymmetricBinding with ``token`` as protection token and ``published``'s options (section 7.4)."""
    layout = _layout(published.protection, published.encrypt_signature)
    return (
        f"<sp:SymmetricBinding><wsp:Policy><sp:ProtectionToken><wsp:Policy>{token}</wsp:Policy></sp:ProtectionToken>"
        f"{layout}</wsp:Policy></sp:SymmetricBinding>"
    )


def _asymmetric_binding(include: str, service_token: str, published: PublishedPolicy) -> str:
    """MutualCertificate (section 7.5, WCF's ``CreateMutualCertificateBindingElement``): the client's X.509
    token, sent with every request, signs; the service's, never sent, is the recipient of the EncryptedKey."""
    client = (
        f'<sp:X509Token sp:IncludeToken="{include}/AlwaysToRecipient"><wsp:Policy><sp:WssX509V3Token10/>'
        "</wsp:Policy></sp:X509Token>"
    )
    layout = _layout(published.protection, published.encrypt_signature)
    return (
        f"<sp:AsymmetricBinding><wsp:Policy><sp:InitiatorToken><wsp:Policy>{client}</wsp:Policy></sp:InitiatorToken>"
        f"<sp:RecipientToken><wsp:Policy>{service_token}</wsp:Policy></sp:RecipientToken>{layout}"
        "</wsp:Policy></sp:AsymmetricBinding>"
    )


def _parts(policy: ProtectionPolicy, addressing: bool) -> str:
    """SignedParts and EncryptedParts (sections 4.1.1, 4.2.1): the Body, and every WS-Addressing header when
    ``addressing``, signed; the Body encrypted (as ``policy`` says)."""
    headers = "".join(f'<sp:Header Name="{name}" Namespace="{ns.WSA10}"/>' for name in _WSA_HEADERS)
    signed = ("<sp:Body/>" if policy.sign_body else "") + (headers if addressing else "")
    text = f"<sp:SignedParts>{signed}</sp:SignedParts>" if policy.sign and signed else ""
    return text + ("<sp:EncryptedParts><sp:Body/></sp:EncryptedParts>" if policy.encrypt else "")


def _trust(published: PublishedPolicy) -> str:
    """``sp:Trust13`` (WS-SC 1.3) or ``sp:Trust10`` (February 2005) with the entropy the service requires
    (section 10.1; WS-Trust 1.3 section 4.4.3)."""
    name = "Trust13" if published.version is SC_1_3 else "Trust10"
    mode = published.entropy_mode
    entropy = "<sp:RequireClientEntropy/>" if mode in (EntropyMode.CLIENT, EntropyMode.COMBINED) else ""
    entropy += "<sp:RequireServerEntropy/>" if mode in (EntropyMode.SERVER, EntropyMode.COMBINED) else ""
    return f"<sp:{name}><wsp:Policy><sp:MustSupportIssuedTokens/>{entropy}</wsp:Policy></sp:{name}>"


def _negotiated_token(published: PublishedPolicy, include: str, derived: str) -> str:
    """The SpnegoContextToken (WS-SP 1.2 section 5.4.5) or WCF's ``mssp:SslContextToken``, nested assertions in
    the order WCF's exporter writes them (the module documentation)."""
    sp12 = published.version is SC_1_3
    if sp12:  # WCF's WSSecurityPolicy12 writes it on every negotiated token, cancellable or not
        cancel = "<sp:MustNotSendCancel/>"
    else:
        cancel = "" if published.require_cancellation else "<mssp:MustNotSendCancel/>"
    client = "<mssp:RequireClientCertificate/>" if published.require_client_certificate else ""
    tail = "<sp:MustNotSendAmend/><sp:MustNotSendRenew/>" if sp12 else ""
    name = "sp:SpnegoContextToken" if published.negotiation == SPNEGO_MECHANISM else "mssp:SslContextToken"
    return (
        f'<{name} sp:IncludeToken="{include}/AlwaysToRecipient"><wsp:Policy>{derived}{cancel}{client}{tail}'
        f"</wsp:Policy></{name}>"
    )


def _supporting(published: PublishedPolicy, include: str) -> str:
    """A signed-encrypted UsernameToken (section 8.4) or an endorsing X.509 token (section 8.3), or nothing."""
    if published.supporting is TokenKind.USERNAME:
        return (
            f'<sp:SignedEncryptedSupportingTokens><wsp:Policy><sp:UsernameToken sp:IncludeToken="{include}/'
            'AlwaysToRecipient"><wsp:Policy><sp:WssUsernameToken10/></wsp:Policy></sp:UsernameToken></wsp:Policy>'
            "</sp:SignedEncryptedSupportingTokens>"
        )
    if published.supporting is TokenKind.X509:
        return (
            f'<sp:EndorsingSupportingTokens><wsp:Policy><sp:X509Token sp:IncludeToken="{include}/AlwaysToRecipient">'
            "<wsp:Policy><sp:RequireThumbprintReference/><sp:WssX509V3Token10/></wsp:Policy></sp:X509Token>"
            "</wsp:Policy></sp:EndorsingSupportingTokens>"
        )
    return ""


def endpoint_policy(published: PublishedPolicy) -> Element:
    """The endpoint policy (``wsu:Id`` :data:`POLICY_ID`): a SecureConversationToken whose bootstrap is the
    symmetric binding over the service certificate, with a signed-encrypted UsernameToken or an endorsing X.509
    token as ``published.supporting`` says, or the asymmetric MutualCertificate binding, or the symmetric binding
    over a negotiated context; without a security context, that bootstrap binding as the endpoint's."""
    sp = ns.SP12 if published.version is SC_1_3 else ns.SP11
    include = f"{sp}/IncludeToken"
    policy = published.protection
    derived = "<sp:RequireDerivedKeys/>" if policy.derived_keys else ""
    x509 = (
        f'<sp:X509Token sp:IncludeToken="{include}/Never"><wsp:Policy>{{}}<sp:RequireThumbprintReference/>'
        "<sp:WssX509V3Token10/></wsp:Policy></sp:X509Token>"
    )
    if published.negotiation is not None:
        binding = _binding(_negotiated_token(published, include, derived), published)
    elif published.bootstrap_binding is BindingKind.ASYMMETRIC:
        binding = _asymmetric_binding(include, x509.format(""), published)
    else:
        binding = _binding(x509.format(derived), published)
    wss11 = (
        "<sp:Wss11><wsp:Policy><sp:MustSupportRefKeyIdentifier/><sp:MustSupportRefIssuerSerial/>"
        "<sp:MustSupportRefThumbprint/><sp:MustSupportRefEncryptedKey/>{}</wsp:Policy></sp:Wss11>"
    )
    # WCF asks for SignatureConfirmation where the client's request is protected by the service's X.509 token.
    confirm = wss11.format("" if published.negotiation is not None else "<sp:RequireSignatureConfirmation/>")
    addressing = policy.sign_addressing_headers and published.signed_addressing
    if published.establish_security_context:
        bootstrap = (
            _parts(policy, policy.sign_addressing_headers)
            + binding
            + _supporting(published, include)
            + confirm
            + _trust(published)
        )
        sct = (
            f'<sp:SecureConversationToken sp:IncludeToken="{include}/AlwaysToRecipient"><wsp:Policy>{derived}'
            f"<sp:BootstrapPolicy><wsp:Policy>{bootstrap}</wsp:Policy></sp:BootstrapPolicy></wsp:Policy>"
            "</sp:SecureConversationToken>"
        )
        assertions = _binding(sct, published) + _parts(policy, addressing) + wss11.format("")
    else:
        assertions = binding + _supporting(published, include) + _parts(policy, addressing) + confirm
    mssp = f' xmlns:mssp="{ns.MSSP}"' if published.negotiation is not None else ""
    text = (
        f'<wsp:Policy xmlns:wsp="{_WSP}" xmlns:sp="{sp}"{mssp} xmlns:wsu="{ns.WSU}" xmlns:wsaw="{_WSAW}" '
        f'wsu:Id="{POLICY_ID}"><wsp:ExactlyOne><wsp:All>{assertions}{_trust(published)}<wsaw:UsingAddressing/>'
        "</wsp:All></wsp:ExactlyOne></wsp:Policy>"
    )
    return etree.fromstring(text)


def attach_policy(
    wsdl: bytes,
    policy: Element,
    certificate: crypto_x509.Certificate | None,
    address: str | None = None,
    *,
    spn: str | None = None,
    upn: str | None = None,
    dns: str | None = None,
) -> bytes:
    """``wsdl`` with ``policy`` (an :func:`endpoint_policy`) attached to each of its bindings by reference and
    each port's endpoint identity (``wsa10:EndpointReference/Identity``, NEGOTIATION.md section 6.1): the
    service's name when ``spn``, ``upn`` or ``dns`` is given (at most one: WCF's identity is one claim; the
    SPNEGO target a client derives from it), else the service ``certificate`` (``KeyInfo/X509Data``), else none;
    ``address``, when given, replaces every port's SOAP address (the URL the document was asked from, as WCF
    answers ``?wsdl``)."""
    names = [(local, value) for local, value in (("Spn", spn), ("Upn", upn), ("Dns", dns)) if value is not None]
    if len(names) > 1 or any(not value or any(c.isspace() for c in value) for _, value in names):
        raise ValueError("the endpoint identity is one Spn, Upn or Dns name, without whitespace")
    root = parse(wsdl)
    if root.tag != ns.qn(_WSDL, "definitions"):
        raise InvalidSecurity("not a WSDL 1.1 document")
    root.insert(0, policy)
    for binding in root.iterfind(ns.qn(_WSDL, "binding")):
        reference = etree.Element(ns.qn(_WSP, "PolicyReference"), URI="#" + POLICY_ID)
        binding.insert(0, reference)
    for port in root.iter(ns.qn(_WSDL, "port")):
        soap_address = next((c for c in port if etree.QName(c).localname == "address"), None)
        if soap_address is not None and address is not None:
            soap_address.set("location", address)
        epr = etree.SubElement(port, ns.qn(ns.WSA10, "EndpointReference"))
        location = soap_address.get("location") if soap_address is not None else address
        etree.SubElement(epr, ns.qn(ns.WSA10, "Address")).text = location or ""
        if names or certificate is not None:
            _identity(etree.SubElement(epr, ns.qn(_IDENTITY, "Identity")), names, certificate)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def _identity(identity: Element, names: list[tuple[str, str]], certificate: crypto_x509.Certificate | None) -> None:
    """The one claim of an endpoint identity: the service's name, or its certificate."""
    if names:
        ((local, value),) = names
        etree.SubElement(identity, ns.qn(_IDENTITY, local)).text = value
    elif certificate is not None:
        der = base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()
        data = etree.SubElement(etree.SubElement(identity, ns.qn(ns.DS, "KeyInfo")), ns.qn(ns.DS, "X509Data"))
        etree.SubElement(data, ns.qn(ns.DS, "X509Certificate")).text = der
