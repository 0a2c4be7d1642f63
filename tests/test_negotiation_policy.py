"""Negotiated security contexts in WS-SecurityPolicy (NEGOTIATION.md sections 4-6): SpnegoContextToken and WCF's
``mssp:SslContextToken`` read into :meth:`SecurityPolicy.negotiation`, the endpoint identity of a WSDL port
(Spn, Upn, Dns), and the negotiated bindings a wssc service publishes, read back.

WCF's documented policies, CXF's SPNEGO WSDL, CoreWCF's Windows-credential WSDL and the Metro and WSS4J token
fragments are read in place from the shared vectors; what is published is compared element by element with
what WCF publishes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from pki import CLIENT, ROOT, issue
from wssc import namespaces as ns
from wssc.conversation.negotiating import NegotiatedBootstrap
from wssc.conversation.policy_client import ClientCredentials, configure_client
from wssc.conversation.policy_writer import negotiated_policy
from wssc.conversation.settings import ServiceSettings
from wssc.policy.kinds import SPNEGO_MECHANISM, TLSNEGO_MECHANISM
from wssc.policy.security_policy import (
    BindingKind,
    IncludeToken,
    NegotiationPolicy,
    SecurityPolicy,
    SupportingCategory,
    TokenKind,
    TokenRole,
)
from wssc.policy.writer import PublishedPolicy, attach_policy, endpoint_policy
from wssc.policy.ws_policy import PolicyError
from wssc.policy.wsdl import MAX_IDENTITY_CHARS, parse_policy, parse_wsdl
from wssc.primitives.algorithms import BASIC128, BASIC256
from wssc.security.policy import ProtectionPolicy
from wssc.tokens.x509 import self_signed
from wssc.trust.entropy import EntropyMode
from wssc.versions import SC_1_3, SC_2005_02, SCVersion

Vector = Callable[[str], Path]
WCF_DOCS = "wcf-docs-policies/"
SP12_INCLUDE = ns.SP12 + "/IncludeToken/"
WSP = "http://schemas.xmlsoap.org/ws/2004/09/policy"
IDENTITY = "http://schemas.xmlsoap.org/ws/2006/02/addressingidentity"
WSDL = """<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:tns="urn:t" targetNamespace="urn:t"
    xmlns:soap12="http://schemas.xmlsoap.org/wsdl/soap12/">
  <wsdl:binding name="B" type="tns:I"><soap12:binding transport="http://schemas.xmlsoap.org/soap/http"/></wsdl:binding>
  <wsdl:service name="S"><wsdl:port name="P" binding="tns:B">
    <soap12:address location="http://server.example.com:8080/svc"/>{port}
  </wsdl:port></wsdl:service>
</wsdl:definitions>"""


def policy_of(vector_path: Vector, name: str) -> SecurityPolicy:
    (policy,) = parse_policy(vector_path(name).read_bytes())
    return policy


def negotiation_of(policy: SecurityPolicy) -> NegotiationPolicy:
    found = policy.negotiation()
    assert found is not None
    return found


def summary(negotiation: NegotiationPolicy) -> tuple[Any, ...]:
    """The answer without the policies it points into."""
    return (
        negotiation.mechanism,
        negotiation.placement,
        negotiation.establish_security_context,
        negotiation.over_transport,
        negotiation.require_client_certificate,
        negotiation.username_supporting,
        negotiation.version,
    )


def inline(body: str, sp: str = ns.SP12) -> bytes:
    return (
        f'<wsp:Policy xmlns:wsp="{WSP}" xmlns:sp="{sp}" xmlns:mssp="{ns.MSSP}" xmlns:x="urn:x" '
        f'xmlns:wsa="{ns.WSA10}">{body}</wsp:Policy>'
    ).encode()


def symmetric(token: str, extra: str = "") -> str:
    """A symmetric binding with ``token`` as protection token, Basic128, and ``extra`` assertions beside it."""
    return (
        f"<sp:SymmetricBinding><wsp:Policy><sp:ProtectionToken><wsp:Policy>{token}</wsp:Policy></sp:ProtectionToken>"
        "<sp:AlgorithmSuite><wsp:Policy><sp:Basic128/></wsp:Policy></sp:AlgorithmSuite></wsp:Policy>"
        f"</sp:SymmetricBinding>{extra}"
    )


def spnego(nested: str = "<sp:RequireDerivedKeys/>", attributes: str = "") -> str:
    return f"<sp:SpnegoContextToken{attributes}><wsp:Policy>{nested}</wsp:Policy></sp:SpnegoContextToken>"


def ssl(nested: str = "<sp:RequireDerivedKeys/>", prefix: str = "mssp") -> str:
    return f"<{prefix}:SslContextToken><wsp:Policy>{nested}</wsp:Policy></{prefix}:SslContextToken>"


# --- WCF's documented policies ------------------------------------------------------------------------------

#: WCF's policies without a security context: SspiNegotiated, AnonymousForSslNegotiated, MutualSslNegotiated
WCF_NEGOTIATED = [
    ("SspiNegotiated_policy.xml", SPNEGO_MECHANISM, False),
    ("AnonymousForSslNegotiated_policy.xml", TLSNEGO_MECHANISM, False),
    ("MutualSslNegotiated_policy.xml", TLSNEGO_MECHANISM, True),
]


@pytest.mark.parametrize(("name", "mechanism", "client_certificate"), WCF_NEGOTIATED)
def test_wcf_negotiated_without_security_context(
    vector_path: Vector, name: str, mechanism: str, client_certificate: bool
) -> None:
    policy = policy_of(vector_path, WCF_DOCS + name)
    negotiation = negotiation_of(policy)
    assert summary(negotiation) == (
        mechanism,
        TokenRole.PROTECTION,
        False,
        False,
        client_certificate,
        False,
        SC_1_3,
    )
    assert negotiation.policy is policy and negotiation.token is policy.protection_token
    assert negotiation.token.include_token is IncludeToken.ALWAYS_TO_RECIPIENT and negotiation.token.derived_keys
    assert negotiation.token.must_not_send_cancel  # WCF's SP 1.2 exporter always writes it
    protection = negotiation.protection_policy()
    assert protection.suite is BASIC256 and protection.derived_keys and protection.encrypt_signature
    assert policy.unsupported() == ()


def test_wcf_secure_conversation_bootstrapped_by_spnego(vector_path: Vector) -> None:
    policy = policy_of(vector_path, WCF_DOCS + "SecureConversation_policy.xml")
    negotiation = negotiation_of(policy)
    sct = policy.protection_token
    assert sct is not None and sct.kind is TokenKind.SECURE_CONVERSATION
    assert negotiation.policy is sct.bootstrap and negotiation.establish_security_context
    # the bootstrap is SP 2005/07 with Trust10: the negotiation legs are Feb 2005, the outer context 1.3
    assert summary(negotiation)[:2] == (SPNEGO_MECHANISM, TokenRole.PROTECTION)
    assert negotiation.version is SC_2005_02 and policy.sc_version() is SC_1_3
    assert not negotiation.token.must_not_send_cancel  # session mode: SP 2005/07 writes it only for cookies
    assert negotiation.protection_policy().encrypt and negotiation.protection_policy().sign_addressing_headers


def test_wcf_spnego_over_transport_is_read_with_the_transport_flag(vector_path: Vector) -> None:
    """SspiNegotiatedOverTransport (TransportWithMessageCredential, Windows credential): the negotiated context
    endorses messages over HTTPS; read, and marked ``over_transport``."""
    policy = policy_of(vector_path, WCF_DOCS + "SspiNegotiatedOverTransport_policy.xml")
    negotiation = negotiation_of(policy)
    assert summary(negotiation) == (
        SPNEGO_MECHANISM,
        SupportingCategory.ENDORSING,
        False,
        True,
        False,
        False,
        SC_1_3,
    )
    assert negotiation.policy.binding is BindingKind.TRANSPORT and not negotiation.token.derived_keys
    (parts_gap,) = policy.unsupported()  # the To header the endorsing token signs itself
    assert "parts a supporting token signs" in parts_gap


def test_the_client_configures_negotiation_or_says_what_it_lacks(vector_path: Vector) -> None:
    spnego = policy_of(vector_path, WCF_DOCS + "SspiNegotiated_policy.xml")
    with pytest.raises(PolicyError, match="SPNEGO needs the service's principal"):
        configure_client(spnego)
    assert isinstance(configure_client(spnego, target="host/server").bootstrap, NegotiatedBootstrap)
    mutual = policy_of(vector_path, WCF_DOCS + "MutualSslNegotiated_policy.xml")
    with pytest.raises(PolicyError, match="client certificate"):
        configure_client(mutual)
    config = configure_client(mutual, credentials=ClientCredentials(certificate=CLIENT[0], private_key=CLIENT[1]))
    assert isinstance(config.bootstrap, NegotiatedBootstrap)


def test_non_negotiated_policies_answer_none(vector_path: Vector) -> None:
    for binding in parse_wsdl(vector_path("cxf-wssc-wsdl/DoubleItWSSC.wsdl").read_bytes()):
        assert binding.policy.negotiation() is None, binding.name
    assert SecurityPolicy().negotiation() is None


# --- CXF, CoreWCF, Metro, WSS4J -----------------------------------------------------------------------------


def test_cxf_spnego_wsdl(vector_path: Vector) -> None:
    bindings = {b.name: b for b in parse_wsdl(vector_path("cxf-wssc-wsdl/DoubleItSpnego.wsdl").read_bytes())}
    prefix = "DoubleItSpnego"
    expected = {
        "SymmetricProtectionBinding": (TokenRole.PROTECTION, False, False, SC_1_3),
        "SymmetricProtectionDerivedBinding": (TokenRole.PROTECTION, False, False, SC_1_3),
        "SymmetricProtectionEncryptBeforeSigningBinding": (TokenRole.PROTECTION, False, False, SC_1_3),
        "TransportBinding": (SupportingCategory.SUPPORTING, False, True, SC_1_3),
        "TransportEndorsingBinding": (SupportingCategory.ENDORSING, False, True, SC_1_3),
        "TransportEndorsingSP11Binding": (SupportingCategory.ENDORSING, False, True, SC_2005_02),
        "SymmetricSecureConversationBinding": (TokenRole.PROTECTION, True, False, SC_1_3),
    }
    assert {name.removeprefix(prefix) for name in bindings} == set(expected)
    for name, (placement, establish, transport, version) in expected.items():
        negotiation = negotiation_of(bindings[prefix + name].policy)
        assert negotiation.mechanism == SPNEGO_MECHANISM, name
        assert (negotiation.placement, negotiation.establish_security_context) == (placement, establish), name
        assert (negotiation.over_transport, negotiation.version) == (transport, version), name
        include = IncludeToken.ALWAYS_TO_RECIPIENT if establish else IncludeToken.ONCE
        assert negotiation.token.include_token is include, name
    derived = negotiation_of(bindings[prefix + "SymmetricProtectionDerivedBinding"].policy)
    plain = negotiation_of(bindings[prefix + "SymmetricProtectionBinding"].policy)
    assert derived.protection_policy().derived_keys and not plain.protection_policy().derived_keys
    assert plain.protection_policy().suite is BASIC128


def test_corewcf_windows_credential_over_transport(vector_path: Vector) -> None:
    name = "corewcf-wsdl/WSHttpBindingTest.TransportWithMessageCredentials_MultiAuth.xml"
    windows, certificate, username = parse_wsdl(vector_path(name).read_bytes())
    negotiation = negotiation_of(windows.policy)
    assert summary(negotiation) == (
        SPNEGO_MECHANISM,
        SupportingCategory.ENDORSING,
        True,
        True,
        False,
        False,
        SC_2005_02,
    )
    assert certificate.policy.negotiation() is None and username.policy.negotiation() is None


@pytest.mark.parametrize(
    "name",
    [
        "metro-wsit-wsdl/ws-sx_wssx-impl_src_test_resources_security_SpnegoContextTokenAssertions.xml",
        "wss4j-policy-and-schemas/sp12_SpnegoContextToken.xml",
    ],
)
def test_a_bare_token_fragment_is_no_binding(vector_path: Vector, name: str) -> None:
    *_, fragment = parse_policy(vector_path(name).read_bytes())
    (token,) = fragment.bare_tokens
    assert token.kind is TokenKind.SPNEGO_CONTEXT and token.require_derived_keys
    with pytest.raises(PolicyError, match=r"policy SpnegoContextToken: .* not a binding wssc reads"):
        fragment.negotiation()
    assert any("not a binding wssc reads" in gap for gap in fragment.unsupported())


# --- inline documents: SP 1.1 / SP 1.2 forms, issuer, UserNameForSsl ----------------------------------------


def test_sp11_ssl_context_token_with_mssp_assertions() -> None:
    nested = "<sp:RequireDerivedKeys/><mssp:MustNotSendCancel/><mssp:RequireClientCertificate/>"
    body = symmetric(ssl(nested), "<sp:Trust10><wsp:Policy/></sp:Trust10>")
    (policy,) = parse_policy(inline(body, ns.SP11))
    negotiation = negotiation_of(policy)
    assert (negotiation.mechanism, negotiation.require_client_certificate) == (TLSNEGO_MECHANISM, True)
    assert negotiation.version is SC_2005_02 and negotiation.token.must_not_send_cancel
    assert negotiation.token.sp_namespace == ns.SP11 and policy.unsupported() == ()


def test_sp12_ssl_context_token_in_the_sp_namespace() -> None:
    (policy,) = parse_policy(inline(symmetric(ssl("<sp:RequireClientCertificate/>", prefix="sp"))))
    negotiation = negotiation_of(policy)
    assert negotiation.mechanism == TLSNEGO_MECHANISM and negotiation.require_client_certificate
    assert negotiation.version is SC_1_3 and not negotiation.token.derived_keys


def test_spnego_issuer_and_must_not_send() -> None:
    issuer = "<sp:Issuer><wsa:Address>https://sts.example.com/spnego</wsa:Address></sp:Issuer>"
    token = (
        f'<sp:SpnegoContextToken sp:IncludeToken="{SP12_INCLUDE}Once">{issuer}<wsp:Policy><sp:RequireDerivedKeys/>'
        "<sp:MustNotSendCancel/><sp:MustNotSendRenew/></wsp:Policy></sp:SpnegoContextToken>"
    )
    negotiation = negotiation_of(parse_policy(inline(symmetric(token)))[0])
    assert negotiation.token.issuer == "https://sts.example.com/spnego"
    assert negotiation.token.include_token is IncludeToken.ONCE
    flags = negotiation.token.must_not_send_cancel, negotiation.token.must_not_send_amend
    assert flags == (True, False) and negotiation.token.must_not_send_renew


@pytest.mark.parametrize("category", ["SignedEncryptedSupportingTokens", "SignedSupportingTokens", "SupportingTokens"])
def test_username_for_ssl_negotiated(category: str) -> None:
    username = f"<sp:{category}><wsp:Policy><sp:UsernameToken/></wsp:Policy></sp:{category}>"
    negotiation = negotiation_of(parse_policy(inline(symmetric(ssl(), username)))[0])
    assert negotiation.mechanism == TLSNEGO_MECHANISM and negotiation.username_supporting
    assert not negotiation.require_client_certificate


# --- negative: what negotiation() refuses, by name ----------------------------------------------------------

SCT_OVER = "<sp:SecureConversationToken><wsp:Policy><sp:BootstrapPolicy><wsp:Policy>{}</wsp:Policy>"
SCT_OVER += "</sp:BootstrapPolicy></wsp:Policy></sp:SecureConversationToken>"
X509 = "<sp:X509Token><wsp:Policy><sp:WssX509V3Token10/></wsp:Policy></sp:X509Token>"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (symmetric(ssl("<sp:RequireDerivedKeys/><x:Odd/>")), r"\{urn:x\}Odd not understood in a negotiated token"),
        (symmetric(spnego("<mssp:RequireClientCertificate/>")), "RequireClientCertificate not understood"),
        (symmetric(spnego("<sp:RequireThumbprintReference/>")), "RequireThumbprintReference not understood"),
        (symmetric(spnego("<sp:SC13SecurityContextToken/>")), "SC13SecurityContextToken not understood"),
        (
            symmetric(
                spnego(),
                f"<sp:EndorsingSupportingTokens><wsp:Policy>{ssl()}</wsp:Policy></sp:EndorsingSupportingTokens>",
            ),
            "more than one negotiated context token: ProtectionToken SpnegoContextToken, "
            "EndorsingSupportingTokens SslContextToken",
        ),
        (
            f"<sp:AsymmetricBinding><wsp:Policy><sp:InitiatorToken><wsp:Policy>{spnego()}</wsp:Policy>"
            f"</sp:InitiatorToken><sp:RecipientToken><wsp:Policy>{X509}</wsp:Policy></sp:RecipientToken>"
            "</wsp:Policy></sp:AsymmetricBinding>",
            r"InitiatorToken SpnegoContextToken: .*\(AsymmetricBinding\) is not a binding wssc reads",
        ),
        (
            symmetric(
                X509,
                f"<sp:EndorsingSupportingTokens><wsp:Policy>{spnego()}</wsp:Policy></sp:EndorsingSupportingTokens>",
            ),
            r"EndorsingSupportingTokens SpnegoContextToken: .*\(SymmetricBinding\)",
        ),
        (
            symmetric(SCT_OVER.format(symmetric(SCT_OVER.format(symmetric(spnego()))))),
            "ProtectionToken SecureConversationToken > bootstrap: ProtectionToken SecureConversationToken > "
            "bootstrap: ProtectionToken SpnegoContextToken: ",
        ),
        (
            symmetric(
                f"<sp:X509Token><wsp:Policy><sp:BootstrapPolicy><wsp:Policy>{symmetric(spnego())}</wsp:Policy>"
                "</sp:BootstrapPolicy></wsp:Policy></sp:X509Token>"
            ),
            "ProtectionToken X509Token > bootstrap: ProtectionToken SpnegoContextToken: ",
        ),
    ],
    ids=[
        "unknown-nested",
        "client-cert-on-spnego",
        "reference-style",
        "sc13",
        "two",
        "asymmetric",
        "endorsing",
        "deep",
        "x509-bootstrap",
    ],
)
def test_refused_negotiated_shapes_name_the_token(body: str, message: str) -> None:
    (policy,) = parse_policy(inline(body))
    with pytest.raises(PolicyError, match=message):
        policy.negotiation()
    assert any("negotiated" in gap or "wssc reads" in gap for gap in policy.unsupported())


# --- endpoint identity --------------------------------------------------------------------------------------


def port_with(identity: str) -> bytes:
    """A WSDL port with WCF's endpoint reference shape around ``identity`` (the Identity element's content)."""
    epr = (
        f'<wsa10:EndpointReference xmlns:wsa10="{ns.WSA10}"><wsa10:Address>http://server.example.com:8080/svc'
        f'</wsa10:Address><Identity xmlns="{IDENTITY}">{identity}</Identity></wsa10:EndpointReference>'
    )
    return WSDL.format(port=epr).encode()


@pytest.mark.parametrize(
    ("identity", "names", "target"),
    [
        ("<Spn>host/server.example.com</Spn>", ("host/server.example.com", None, None), "host/server.example.com"),
        ("<Upn> svc@EXAMPLE.COM </Upn>", (None, "svc@EXAMPLE.COM", None), "svc@EXAMPLE.COM"),
        ("<Dns>server.example.com</Dns>", (None, None, "server.example.com"), "host/server.example.com"),
        ("", (None, None, None), "host/server.example.com"),
    ],
    ids=["spn", "upn", "dns", "none"],
)
def test_port_identity(identity: str, names: tuple[str | None, ...], target: str) -> None:
    (binding,) = parse_wsdl(port_with(identity))
    (port,) = binding.ports
    assert (port.spn, port.upn, port.dns) == names and port.target_name() == target
    assert port.certificate is None


@pytest.mark.parametrize(
    ("identity", "message"),
    [
        ("<Spn>host/a</Spn><Upn>b@C</Upn>", "more than once"),
        ("<Spn> </Spn>", "Spn is not a name"),
        ("<Upn>svc @EXAMPLE.COM</Upn>", "Upn is not a name"),
        ("<Dns>a\u200bb</Dns>", "Dns is not a name"),
        ("<Spn>host/<b>x</b></Spn>", "Spn is not a name"),
        ("<Spn>" + "h" * (MAX_IDENTITY_CHARS + 1) + "</Spn>", "Spn is not a name"),
    ],
    ids=["two", "blank", "space", "control", "element", "long"],
)
def test_bad_port_identity_is_refused(identity: str, message: str) -> None:
    with pytest.raises(PolicyError, match=f"port P: .*{message}"):
        parse_wsdl(port_with(identity))


# --- writing: WCF's shape, element by element, and read back ------------------------------------------------

WCF_PROTECTION = ProtectionPolicy()  # Basic256, derived keys, sign-then-encrypt with the signature encrypted


def shape(element: etree._Element) -> tuple[Any, ...]:
    """An element as tag, attributes and children's shapes, text and namespace prefixes ignored."""
    children = tuple(shape(child) for child in element if isinstance(child.tag, str))
    return element.tag, tuple(sorted(element.attrib.items())), children


def assertions(policy: etree._Element) -> dict[str, etree._Element]:
    (alternative,) = policy.iterfind(f"{{{WSP}}}ExactlyOne/{{{WSP}}}All")
    return {child.tag: child for child in alternative}


def read_back(publishing: PublishedPolicy) -> tuple[SecurityPolicy, NegotiationPolicy]:
    """The policy :func:`endpoint_policy` writes, read again, and its negotiation."""
    (policy,) = parse_policy(etree.tostring(endpoint_policy(publishing)))
    return policy, negotiation_of(policy)


def published(mechanism: str, version: SCVersion = SC_1_3, **options: Any) -> PublishedPolicy:
    return PublishedPolicy(WCF_PROTECTION, version, negotiation=mechanism, encrypt_signature=True, **options)


@pytest.mark.parametrize(("name", "mechanism", "client_certificate"), WCF_NEGOTIATED)
def test_published_negotiated_binding_is_wcfs(
    vector_path: Vector, name: str, mechanism: str, client_certificate: bool
) -> None:
    wcf = assertions(etree.fromstring(vector_path(WCF_DOCS + name).read_bytes()))
    ours = assertions(
        endpoint_policy(
            published(mechanism, establish_security_context=False, require_client_certificate=client_certificate)
        )
    )
    # WCF publishes SignedParts/EncryptedParts on the operations' messages, wssc on the endpoint
    assert set(ours) - set(wcf) == {ns.qn(ns.SP12, "SignedParts"), ns.qn(ns.SP12, "EncryptedParts")}
    for tag, element in wcf.items():
        assert shape(ours[tag]) == shape(element), tag


def test_published_spnego_bootstrap_is_wcfs(vector_path: Vector) -> None:
    """The BootstrapPolicy WCF's wsHttpBinding (Windows credential) publishes in SP 2005/07 is what wssc writes for
    a February 2005 service negotiating its bootstrap with SPNEGO in session mode."""
    wcf = etree.fromstring(vector_path(WCF_DOCS + "SecureConversation_policy.xml").read_bytes())
    ours = endpoint_policy(published(SPNEGO_MECHANISM, SC_2005_02, entropy_mode=EntropyMode.COMBINED))
    path = "{0}ExactlyOne/{0}All/{1}SymmetricBinding/{0}Policy/{1}ProtectionToken/{0}Policy/"
    path += "{1}SecureConversationToken/{0}Policy/{1}BootstrapPolicy"
    wcf_bootstrap = wcf.find(path.format(f"{{{WSP}}}", f"{{{ns.SP12}}}"))
    our_bootstrap = ours.find(path.format(f"{{{WSP}}}", f"{{{ns.SP11}}}"))
    assert wcf_bootstrap is not None and our_bootstrap is not None
    assert shape(our_bootstrap[0]) == shape(wcf_bootstrap[0])


SERVICE_CERT = issue("service.example", ROOT)[0]

ROUND_TRIPS = [
    (mechanism, version, establish, certificate, username)
    for mechanism in (SPNEGO_MECHANISM, TLSNEGO_MECHANISM)
    for version in (SC_1_3, SC_2005_02)
    for establish in (True, False)
    for certificate in ((False, True) if mechanism == TLSNEGO_MECHANISM else (False,))
    for username in (False, True)
]


@pytest.mark.parametrize(("mechanism", "version", "establish", "certificate", "username"), ROUND_TRIPS)
def test_published_negotiation_reads_back(
    mechanism: str, version: SCVersion, establish: bool, certificate: bool, username: bool
) -> None:
    publishing = published(
        mechanism,
        version,
        establish_security_context=establish,
        require_client_certificate=certificate,
        supporting=TokenKind.USERNAME if username else None,
    )
    policy, negotiation = read_back(publishing)
    assert summary(negotiation) == (
        mechanism,
        TokenRole.PROTECTION,
        establish,
        False,
        certificate,
        username,
        version,
    )
    sct = policy.protection_token
    assert sct is not None and negotiation.policy is (sct.bootstrap if establish else policy)
    protection = negotiation.protection_policy()
    assert (protection.suite, protection.derived_keys, protection.encrypt_signature) == (BASIC256, True, True)
    assert negotiation.token.must_not_send_cancel is (version is SC_1_3)
    assert policy.unsupported() == () and policy.entropy_mode() is EntropyMode.COMBINED
    credentials = ClientCredentials(
        "alice", "secret", CLIENT[0], CLIENT[1], service_certificate=SERVICE_CERT, spn="host/service.example"
    )
    config = configure_client(policy, credentials=credentials)
    assert isinstance(config.bootstrap, NegotiatedBootstrap) and config.version is version
    assert config.establish_security_context is establish
    assert config.bootstrap.username == ("alice" if username and mechanism == TLSNEGO_MECHANISM else None)


def test_published_cookie_context_in_sp11() -> None:
    (policy,) = parse_policy(
        etree.tostring(endpoint_policy(published(TLSNEGO_MECHANISM, SC_2005_02, require_cancellation=False)))
    )
    token = negotiation_of(policy).token
    assert token.must_not_send_cancel and token.name == ns.qn(ns.MSSP, "SslContextToken")


def test_published_certificate_bootstrap_without_security_context() -> None:
    """``establish_security_context=False`` for an X.509 bootstrap: the bootstrap binding is the endpoint's."""
    publishing = PublishedPolicy(WCF_PROTECTION, supporting=TokenKind.USERNAME, establish_security_context=False)
    (policy,) = parse_policy(etree.tostring(endpoint_policy(publishing)))
    token = policy.protection_token
    assert token is not None and token.kind is TokenKind.X509 and policy.negotiation() is None
    assert policy.wss11 is not None and "RequireSignatureConfirmation" in policy.wss11
    certificate, _ = self_signed("no context service")
    credentials = ClientCredentials(username="alice", password="wonderland")
    configuration = configure_client(policy, published_certificate=certificate, credentials=credentials)
    assert not configuration.establish_security_context


@pytest.mark.parametrize(
    "options",
    [
        {"negotiation": "kerberos"},
        {"negotiation": SPNEGO_MECHANISM, "require_client_certificate": True},
        {"require_client_certificate": True},
        {"negotiation": TLSNEGO_MECHANISM, "bootstrap_binding": BindingKind.ASYMMETRIC},
        {"negotiation": SPNEGO_MECHANISM, "supporting": TokenKind.X509},
    ],
)
def test_published_policy_refuses_shapes_wcf_has_not(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"negotiat|TLSNEGO"):
        PublishedPolicy(WCF_PROTECTION, **options)


def test_attached_name_identity_reads_back() -> None:
    policy = endpoint_policy(published(SPNEGO_MECHANISM))
    certificate, _ = self_signed("named service")
    document = attach_policy(WSDL.format(port="").encode(), policy, certificate, spn="host/server.example.com")
    (binding,) = parse_wsdl(document)
    (port,) = binding.ports
    assert port.spn == "host/server.example.com" and port.certificate is None  # one claim: the name
    assert port.target_name() == "host/server.example.com"
    assert negotiation_of(binding.policy).mechanism == SPNEGO_MECHANISM
    (without,) = parse_wsdl(attach_policy(WSDL.format(port="").encode(), policy, None))
    assert without.ports[0].certificate is None and without.ports[0].target_name() == "host/server.example.com"
    with pytest.raises(ValueError, match="one Spn, Upn or Dns"):
        attach_policy(WSDL.format(port="").encode(), policy, None, spn="host/a", upn="b@C")
    with pytest.raises(ValueError, match="one Spn, Upn or Dns"):
        attach_policy(WSDL.format(port="").encode(), policy, None, dns="a b")


@pytest.mark.parametrize("establish", [True, False])
def test_a_service_publishes_its_negotiation_from_its_settings(establish: bool) -> None:
    settings = ServiceSettings()
    publishing = negotiated_policy(
        settings, TLSNEGO_MECHANISM, require_client_certificate=True, establish_security_context=establish
    )
    policy, negotiation = read_back(publishing)
    assert summary(negotiation) == (
        TLSNEGO_MECHANISM,
        TokenRole.PROTECTION,
        establish,
        False,
        True,
        False,
        settings.version,
    )
    assert policy.entropy_mode() is settings.entropy_mode
    assert negotiation.protection_policy().suite is settings.policy.suite
    username = negotiated_policy(settings, SPNEGO_MECHANISM, username=True)
    assert username.supporting is TokenKind.USERNAME and username.negotiation == SPNEGO_MECHANISM
