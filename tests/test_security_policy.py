"""WS-Policy / WS-SecurityPolicy reading of real WCF, CoreWCF, CXF, Metro and WSS4J documents, the wssc settings
they map to, hostile documents, and ``wssc policy``.

The documents are read in place from the shared vectors (see each folder's README); the facts asserted are the
ones the documents state, checked by reading them.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from wssc import namespaces as ns
from wssc.adapters.cli import main
from wssc.errors import WsscError
from wssc.policy.security_policy import (
    BindingKind,
    IncludeToken,
    Layout,
    SecurityPolicy,
    SupportingCategory,
    TokenAssertion,
    TokenKind,
    TokenRole,
)
from wssc.policy.ws_policy import MAX_POLICY_ALTERNATIVES, PolicyError
from wssc.policy.wsdl import BindingPolicy, parse_policy, parse_wsdl
from wssc.primitives.algorithms import BASIC128, BASIC256, SUITES
from wssc.primitives.xml import MalformedXML
from wssc.security.policy import TRANSPORT_POLICY, ProtectionOrder
from wssc.tokens.x509 import self_signed
from wssc.trust.entropy import EntropyMode
from wssc.versions import SC_1_3, SC_2005_02

Vector = Callable[[str], Path]
WSA_HEADERS = ("To", "From", "FaultTo", "ReplyTo", "MessageID", "RelatesTo", "Action")


def policy_of(vector_path: Vector, name: str) -> SecurityPolicy:
    (policy,) = parse_policy(vector_path(name).read_bytes())
    return policy


def bindings_of(vector_path: Vector, name: str) -> dict[str, BindingPolicy]:
    return {binding.name: binding for binding in parse_wsdl(vector_path(name).read_bytes())}


def token(policy: SecurityPolicy, role: TokenRole = TokenRole.PROTECTION) -> TokenAssertion:
    found = policy.token(role)
    assert found is not None
    return found


def bootstrap_of(token: TokenAssertion) -> SecurityPolicy:
    assert token.bootstrap is not None
    return token.bootstrap


def supporting(policy: SecurityPolicy, category: SupportingCategory) -> list[TokenAssertion]:
    return [t for group in policy.supporting if group.category is category for t in group.tokens]


def sc_tokens(policy: SecurityPolicy) -> list[TokenAssertion]:
    """Every SecureConversationToken of a policy, bootstraps included."""
    found = []
    for _, t in policy.all_tokens():
        found += [t] if t.kind is TokenKind.SECURE_CONVERSATION else []
        found += sc_tokens(t.bootstrap) if t.bootstrap is not None else []
    return found


# --- WCF documentation policies (wcf-docs-policies) -------------------------------------------------------


def test_wcf_secure_conversation_policy(vector_path: Vector) -> None:
    policy = policy_of(vector_path, "wcf-docs-policies/SecureConversation_policy.xml")
    assert (policy.binding, policy.binding_namespace) == (BindingKind.SYMMETRIC, ns.SP12)
    sct = token(policy)
    assert sct.kind is TokenKind.SECURE_CONVERSATION
    assert sct.include_token is IncludeToken.ALWAYS_TO_RECIPIENT
    assert sct.require_derived_keys and sct.must_not_send_amend
    assert not (sct.must_not_send_cancel or sct.must_not_send_renew)
    assert sct.sc_version() is SC_1_3 and policy.sc_version() is SC_1_3
    assert (policy.suite, policy.layout) == (BASIC256, Layout.STRICT)
    assert policy.include_timestamp and policy.encrypt_signature and policy.only_sign_entire_headers_and_body
    assert not (policy.encrypt_before_signing or policy.protect_tokens)
    assert policy.trust13 == {"MustSupportIssuedTokens", "RequireClientEntropy", "RequireServerEntropy"}
    assert policy.using_addressing and policy.unknown == ()

    bootstrap = bootstrap_of(sct)  # the SP 2005/07 bootstrap inside the SP 1.2 token
    assert (bootstrap.binding, bootstrap.binding_namespace) == (BindingKind.SYMMETRIC, ns.SP11)
    spnego = token(bootstrap)
    assert spnego.kind is TokenKind.SPNEGO_CONTEXT and spnego.require_derived_keys
    assert spnego.include_token is IncludeToken.ALWAYS_TO_RECIPIENT and spnego.sp_namespace == ns.SP11
    assert (bootstrap.suite, bootstrap.layout) == (BASIC256, Layout.STRICT)
    assert bootstrap.encrypt_signature and bootstrap.only_sign_entire_headers_and_body
    assert bootstrap.trust10 == {"MustSupportIssuedTokens", "RequireClientEntropy", "RequireServerEntropy"}
    assert bootstrap.wss11 == {
        f"MustSupportRef{r}" for r in ("KeyIdentifier", "IssuerSerial", "Thumbprint", "EncryptedKey")
    }
    assert bootstrap.signed_parts is not None and bootstrap.signed_parts.body
    assert {(h.namespace, h.name) for h in bootstrap.signed_parts.headers} == {(ns.WSA10, h) for h in WSA_HEADERS}
    assert bootstrap.encrypted_parts is not None and bootstrap.encrypted_parts.body
    assert policy.entropy_mode() is EntropyMode.COMBINED

    assert policy.unsupported() == ()  # SPNEGO negotiation is read (tests/test_negotiation_policy.py)


def test_wcf_secure_conversation_maps_to_wssc_settings(vector_path: Vector) -> None:
    policy = policy_of(vector_path, "wcf-docs-policies/SecureConversation_policy.xml")
    protection = policy.protection_policy()
    assert protection.suite is BASIC256 and protection.derived_keys and protection.encrypt_signature
    assert protection.order is ProtectionOrder.SIGN_BEFORE_ENCRYPT and protection.include_timestamp
    assert protection.sign and protection.encrypt and not protection.protect_tokens
    bootstrap = bootstrap_of(token(policy))
    boot_protection = bootstrap.protection_policy()
    assert boot_protection.sign_body and boot_protection.sign_addressing_headers and boot_protection.encrypt
    assert boot_protection.signed_headers == () and boot_protection.derived_keys
    requirements = bootstrap.requirements()
    assert requirements.signed_addressing_headers and requirements.encrypted_body and requirements.derived_keys
    assert requirements.suite is BASIC256 and requirements.timestamp


def test_wcf_sspi_negotiated_must_not_send(vector_path: Vector) -> None:
    policy = policy_of(vector_path, "wcf-docs-policies/SspiNegotiated_policy.xml")
    spnego = token(policy)
    assert spnego.kind is TokenKind.SPNEGO_CONTEXT and spnego.require_derived_keys
    assert spnego.must_not_send_cancel and spnego.must_not_send_amend and spnego.must_not_send_renew
    assert spnego.bootstrap is None and policy.sc_version() is SC_1_3
    assert policy.unsupported() == ()


@pytest.mark.parametrize(
    ("name", "client_certificate"),
    [("AnonymousForSslNegotiated_policy.xml", False), ("MutualSslNegotiated_policy.xml", True)],
)
def test_wcf_ssl_context_token(vector_path: Vector, name: str, client_certificate: bool) -> None:
    policy = policy_of(vector_path, "wcf-docs-policies/" + name)
    ssl = token(policy)
    assert ssl.kind is TokenKind.SSL_CONTEXT and ssl.name == ns.qn(ns.MSSP, "SslContextToken")
    assert ssl.require_client_certificate is client_certificate
    assert ssl.require_derived_keys and ssl.must_not_send_cancel and ssl.must_not_send_amend and ssl.must_not_send_renew
    assert ssl.sc_version() is SC_1_3  # an mssp token inside SP 1.2
    assert policy.unsupported() == ()


def test_wcf_sspi_negotiated_over_transport(vector_path: Vector) -> None:
    policy = policy_of(vector_path, "wcf-docs-policies/SspiNegotiatedOverTransport_policy.xml")
    assert policy.binding is BindingKind.TRANSPORT and token(policy, TokenRole.TRANSPORT).kind is TokenKind.HTTPS
    (group,) = policy.supporting
    assert group.category is SupportingCategory.ENDORSING
    assert [t.kind for t in group.tokens] == [TokenKind.SPNEGO_CONTEXT]
    assert group.signed_parts is not None and [h.name for h in group.signed_parts.headers] == ["To"]
    assert policy.protection_policy() == replace(TRANSPORT_POLICY, suite=BASIC256)
    assert policy.requirements().transport_protected
    (parts_gap,) = policy.unsupported()
    assert parts_gap.startswith("EndorsingSupportingTokens: parts a supporting token signs")


# --- CoreWCF TransportWithMessageCredential WSDLs (corewcf-wsdl) ------------------------------------------


def test_corewcf_multi_auth(vector_path: Vector) -> None:
    bindings = bindings_of(vector_path, "corewcf-wsdl/WSHttpBindingTest.TransportWithMessageCredentials_MultiAuth.xml")
    assert list(bindings) == [
        "WSHttpBinding_IEchoService",
        "WSHttpBinding_IEchoService1",
        "WSHttpBinding_IEchoService2",
    ]
    bootstrap_credentials = []
    for binding, path in zip(bindings.values(), ("winAuth", "certAuth", "userNameAuth"), strict=True):
        policy = binding.policy
        assert policy.binding is BindingKind.TRANSPORT and policy.protection_token is None
        (sct,) = supporting(policy, SupportingCategory.ENDORSING)
        assert sct.kind is TokenKind.SECURE_CONVERSATION and sct.include_token is IncludeToken.ALWAYS_TO_RECIPIENT
        assert sct.sc_version() is SC_2005_02 and policy.entropy_mode() is EntropyMode.COMBINED
        bootstrap = bootstrap_of(sct)
        assert bootstrap.binding is BindingKind.TRANSPORT
        assert bootstrap.trust10 == {"MustSupportIssuedTokens", "RequireClientEntropy", "RequireServerEntropy"}
        bootstrap_credentials += [(g.category, t.kind) for g in bootstrap.supporting for t in g.tokens]
        (port,) = binding.ports
        assert port.address == "https://localhost/TestSite/WSHttpBinding.svc/wsHttp/" + path
        assert binding.soap is not None and binding.soap.name == "1.2" and port.certificate is None
        assert [op.name for op in binding.operations][:2] == ["EchoString", "EchoStream"]
    assert bootstrap_credentials == [
        (SupportingCategory.ENDORSING, TokenKind.SPNEGO_CONTEXT),
        (SupportingCategory.ENDORSING, TokenKind.X509),
        (SupportingCategory.SIGNED, TokenKind.USERNAME),
    ]
    x509 = supporting(
        bootstrap_of(supporting(bindings["WSHttpBinding_IEchoService1"].policy, SupportingCategory.ENDORSING)[0]),
        SupportingCategory.ENDORSING,
    )[0]
    assert x509.options == {"RequireThumbprintReference", "WssX509V3Token10"}
    assert bindings["WSHttpBinding_IEchoService2"].policy.unsupported() == ()


def test_corewcf_algorithm_suites(vector_path: Vector) -> None:
    name = "corewcf-wsdl/WSHttpBindingTest.TransportWithMessageCredentials_CertAuth_MultiSecurityAlgo.xml"
    bindings = list(bindings_of(vector_path, name).values())
    suites = ["Basic128", "Basic128Sha256", "Basic192", "Basic192Sha256", "Basic256", "Basic256Sha256"]
    assert [b.policy.suite_name for b in bindings] == suites
    assert [b.policy.suite for b in bindings] == [SUITES[s] for s in suites]
    assert [b.ports[0].address.rsplit("/", 1)[1] for b in bindings if b.ports[0].address] == suites
    for binding in bindings:
        (sct,) = supporting(binding.policy, SupportingCategory.ENDORSING)
        assert bootstrap_of(sct).suite_name == binding.policy.suite_name


def test_corewcf_without_security_context(vector_path: Vector) -> None:
    name = "corewcf-wsdl/WSHttpBindingTest.TransportWithMessageCredentials_CertificateAuth_NoSecurityContext.xml"
    (binding,) = bindings_of(vector_path, name).values()
    assert binding.policy.context_token() is None and binding.policy.sc_version() is None
    assert [t.kind for t in supporting(binding.policy, SupportingCategory.ENDORSING)] == [TokenKind.X509]


# --- Apache CXF WSDLs (cxf-wssc-wsdl) ---------------------------------------------------------------------


def test_cxf_ws_sx_interop_wsdl(vector_path: Vector) -> None:
    bindings = bindings_of(vector_path, "cxf-wssc-wsdl/WSSecureConversation_policy.wsdl")
    assert len(bindings) == 23
    # The README counts 46 "SecureConversationToken" strings: opening and closing tags of 23 assertions.
    assert sum(len(sc_tokens(b.policy)) for b in bindings.values()) == 23
    cancel = set()
    named = 0
    for name, binding in bindings.items():
        policy = binding.policy
        sct = policy.context_token()
        assert sct is not None and sct.kind is TokenKind.SECURE_CONVERSATION and sct.sc_version() is SC_2005_02
        bootstrap = bootstrap_of(sct)
        assert policy.suite is BASIC128 and bootstrap.suite is BASIC128 and policy.layout is Layout.LAX
        assert policy.entropy_mode() is EntropyMode.COMBINED and binding.soap is not None
        if sct.must_not_send_cancel:  # written as mssp:MustNotSendCancel in this SP 2005/07 document
            cancel.add(name.split("_IPingService")[0])
        prefix, _, variant = name.split("_IPingService")[0].strip("_").partition("-")
        if prefix[0] in "XAU" and len(prefix) <= 4:  # the WCF interop naming: X509, Anonymous, UserName ...
            named += 1
            assert sct.require_derived_keys is ("D" in prefix), name
            assert policy.encrypt_before_signing is bootstrap.encrypt_before_signing is (variant == "ES"), name
            assert policy.encrypt_signature is bootstrap.encrypt_signature is (variant == "SEES"), name
            kinds = [(g.category, t.kind) for g in bootstrap.supporting for t in g.tokens]
            if prefix.startswith("U"):
                assert kinds == [(SupportingCategory.SIGNED, TokenKind.USERNAME)], name
            elif prefix.startswith("A") or prefix == "X10":
                assert kinds == [], name
            else:
                assert kinds == [(SupportingCategory.ENDORSING, TokenKind.X509)], name
    assert cancel == {"XC", "AC", "ADC", "ADC-ES", "UXC", "UXDC", "UXDC-SEES"} and named == 21

    x10 = bootstrap_of(token(bindings["_X10_IPingService"].policy))
    assert x10.binding is BindingKind.ASYMMETRIC and x10.wss10 == {
        "MustSupportRefKeyIdentifier",
        "MustSupportRefIssuerSerial",
    }
    assert token(x10, TokenRole.INITIATOR).include_token is IncludeToken.ALWAYS_TO_RECIPIENT
    assert token(x10, TokenRole.RECIPIENT).include_token is IncludeToken.NEVER
    over_tls = bindings["SecureConversation_UserNameOverTransport_IPingService"].policy
    assert over_tls.binding is BindingKind.TRANSPORT
    (endorsing,) = over_tls.supporting  # WCF has the context key also sign wsa:To (SP 2005/07 section 8)
    assert endorsing.signed_parts is not None and [h.name for h in endorsing.signed_parts.headers] == ["To"]
    assert over_tls.unsupported() == (
        "EndorsingSupportingTokens: parts a supporting token signs or encrypts itself "
        "(WS-SecurityPolicy 1.2 section 8) are not implemented",
    )
    assert bindings["_AD_IPingService"].policy.unsupported() == ()
    # A client certificate endorsing the bootstrap is WCF's certificate client: supported.
    assert bindings["_XD_IPingService"].policy.unsupported() == ()


def test_cxf_interop_message_policies(vector_path: Vector) -> None:
    bindings = bindings_of(vector_path, "cxf-wssc-wsdl/WSSecureConversation_policy.wsdl")
    (operation,) = bindings["XDC-ES_IPingService"].operations
    assert operation.name == "Ping"
    (request,) = operation.input
    assert request.signed_parts is not None and request.signed_parts.addressing() == "all"
    assert {h.namespace for h in request.signed_parts.headers} == {ns.WSA200408}
    protection = request.protection_policy()
    assert protection.order is ProtectionOrder.ENCRYPT_BEFORE_SIGN and protection.derived_keys
    assert protection.suite is BASIC128 and not protection.encrypt_signature and protection.encrypt
    (request,) = bindings["_XD-SEES_IPingService"].operations[0].input
    protection = request.protection_policy()
    assert protection.order is ProtectionOrder.SIGN_BEFORE_ENCRYPT and protection.encrypt_signature
    assert request.requirements().encrypted_body and request.requirements().signed_addressing_headers
    (no_keys,) = bindings["_X_IPingService"].operations[0].output
    assert not no_keys.protection_policy().derived_keys


def test_cxf_double_it_sp11_and_sp12(vector_path: Vector) -> None:
    wssc = bindings_of(vector_path, "cxf-wssc-wsdl/DoubleItWSSC.wsdl")
    versions = {name: b.policy.sc_version() for name, b in wssc.items()}
    assert versions == {
        "DoubleItTransportBinding": SC_2005_02,
        "DoubleItTransportSP12Binding": SC_1_3,
        "DoubleItSymmetricBinding": SC_1_3,
    }
    symmetric = wssc["DoubleItSymmetricBinding"].policy
    assert token(bootstrap_of(token(symmetric))).kind is TokenKind.X509 and symmetric.binding_namespace == ns.SP12
    (message,) = wssc["DoubleItSymmetricBinding"].operations[0].input  # SP 2005/07 parts, SP 1.2 binding
    assert message.signed_parts is not None and message.encrypted_parts is not None
    assert message.signed_parts.body and message.encrypted_parts.body and message.signed_parts.headers == ()
    assert wssc["DoubleItTransportBinding"].ports[0].address == "https://localhost:9001/DoubleItTransport"

    (secconv,) = bindings_of(vector_path, "cxf-wssc-wsdl/DoubleItSecConv.wsdl").values()
    bootstrap = bootstrap_of(token(secconv.policy))
    assert bootstrap.binding is BindingKind.ASYMMETRIC and secconv.policy.entropy_mode() is EntropyMode.COMBINED
    assert secconv.soap is not None and secconv.soap.name == "1.1"
    (message,) = secconv.operations[0].input
    assert message.signed_parts is not None and message.signed_parts.addressing() == "some"
    assert not message.requirements().signed_addressing_headers
    assert any("only some WS-Addressing headers" in gap for gap in message.unsupported())

    sts = bindings_of(vector_path, "cxf-wssc-wsdl/sts-secure_conv-DoubleIt.wsdl")
    supported = sts["DoubleItTransportSupportingBinding"].policy
    (sct,) = supporting(supported, SupportingCategory.SUPPORTING)
    assert bootstrap_of(sct).binding is None and supported.using_addressing  # wsam:Addressing
    (message,) = sts["DoubleItSymmetricSecureConvBinding"].operations[0].input
    assert message.protection_policy().signed_headers == tuple(
        ns.qn("http://docs.oasis-open.org/ws-rx/wsrm/200702", h)
        for h in ("AckRequested", "SequenceAcknowledgement", "Sequence", "CreateSequence")
    )
    assert message.requirements().signed_headers == ()  # WS-RM headers are signed only when present
    assert sum("signed if present" in gap for gap in message.unsupported()) == 4


def test_cxf_spnego(vector_path: Vector) -> None:
    bindings = bindings_of(vector_path, "cxf-wssc-wsdl/DoubleItSpnego.wsdl")
    assert len(bindings) == 7
    kinds = [context.kind for b in bindings.values() if (context := b.policy.context_token()) is not None]
    assert kinds.count(TokenKind.SPNEGO_CONTEXT) == 6 and len(kinds) == 7
    assert bindings["DoubleItSpnegoSymmetricProtectionEncryptBeforeSigningBinding"].policy.encrypt_before_signing
    assert not bindings["DoubleItSpnegoSymmetricProtectionBinding"].policy.protection_policy().derived_keys
    assert bindings["DoubleItSpnegoSymmetricProtectionDerivedBinding"].policy.protection_policy().derived_keys
    sp11 = bindings["DoubleItSpnegoTransportEndorsingSP11Binding"].policy
    assert (
        sp11.sc_version() is SC_2005_02
        and bindings["DoubleItSpnegoTransportEndorsingBinding"].policy.sc_version() is SC_1_3
    )
    for binding in bindings.values():
        assert binding.policy.unsupported() == (), binding.name


# --- Eclipse Metro (metro-wsit-wsdl) ----------------------------------------------------------------------


def test_metro_wsdls(vector_path: Vector) -> None:
    (quote,) = bindings_of(vector_path, "metro-wsit-wsdl/samples_pricequote_etc_wcf_wholesaler.wsdl").values()
    policy = quote.policy
    assert policy.suite is BASIC256 and token(policy).require_derived_keys
    assert "{http://schemas.xmlsoap.org/ws/2005/02/rm/policy}RMAssertion" in policy.unknown
    (issued,) = supporting(bootstrap_of(token(policy)), SupportingCategory.ENDORSING)
    assert issued.kind is TokenKind.ISSUED and issued.issuer == "http://localhost:8080/pricequote-wcf/sts"
    assert issued.options == {"RequireInternalReference"} and issued.require_derived_keys
    assert any("IssuedToken" in gap for gap in policy.unsupported())
    assert quote.ports[0].address == "http://129.145.133.244/wholesaler/wholesalerservice.svc/SecureConversation"

    name = (
        "metro-wsit-wsdl/samples_ws-trust_interop_src_secureconversation-mutual-certificate-11_etc_service_"
        "PingServiceMSSTSSunServer.wsdl"
    )
    (sts,) = bindings_of(vector_path, name).values()
    (issued,) = supporting(bootstrap_of(token(sts.policy)), SupportingCategory.ENDORSING)
    assert issued.issuer is not None and issued.issuer.startswith(
        "http://WCF-HOST/Security_Federation_SecurityTokenService"
    )
    assert "RequireSignatureConfirmation" in (bootstrap_of(token(sts.policy)).wss11 or ())

    (scenario6,) = bindings_of(
        vector_path, "metro-wsit-wsdl/tests_e2e_testcases_wssc_sc_wssx_scenario6_server_PingService.wsdl"
    ).values()
    assert scenario6.policy.sc_version() is SC_1_3 and scenario6.policy.using_addressing
    renew = bindings_of(vector_path, "metro-wsit-wsdl/tests_e2e_testcases_wssc_sc_renew_1_server_PingService.wsdl")
    assert renew["PingBinding"].policy == renew["XC_IPingService"].policy  # one policy, referenced twice
    assert not token(renew["XC_IPingService"].policy).require_derived_keys  # commented out in the document
    (ping,) = bindings_of(vector_path, "metro-wsit-wsdl/samples_wssc_src_etc_server_PingService.wsdl").values()
    (sct,) = supporting(ping.policy, SupportingCategory.ENDORSING)
    assert [t.kind for t in supporting(bootstrap_of(sct), SupportingCategory.SIGNED)] == [TokenKind.USERNAME]


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        (
            "ws-sx_wssx-impl_src_test_resources_security_SecureConversationTokenAssertions1.xml",
            TokenKind.SECURE_CONVERSATION,
        ),
        ("ws-sx_wssx-impl_src_test_resources_security_SpnegoContextTokenAssertions.xml", TokenKind.SPNEGO_CONTEXT),
    ],
)
def test_metro_token_fragments(vector_path: Vector, name: str, kind: TokenKind) -> None:
    (fragment,) = parse_policy(vector_path("metro-wsit-wsdl/" + name).read_bytes())
    (found,) = fragment.bare_tokens
    assert found.kind is kind and found.include_token is IncludeToken.ALWAYS and found.require_derived_keys
    assert found.sc_version() is SC_2005_02


# --- WSS4J SP 1.2 token assertions (wss4j-policy-and-schemas) ---------------------------------------------


def test_wss4j_secure_conversation_token_and_its_normal_form(vector_path: Vector) -> None:
    policies = parse_policy(vector_path("wss4j-policy-and-schemas/sp12_SecureConversationToken.xml").read_bytes())
    normalised = parse_policy(
        vector_path("wss4j-policy-and-schemas/sp12_normalized_SecureConversationToken.xml").read_bytes()
    )
    assert policies == normalised
    # wsp:Optional: an empty alternative, then the token once per alternative of its nested BootstrapPolicy
    assert [len(p.bare_tokens) for p in policies] == [0, 1, 1]
    tokens = [p.bare_tokens[0] for p in policies[1:]]
    for sct in tokens:
        assert sct.kind is TokenKind.SECURE_CONVERSATION and sct.include_token is IncludeToken.ONCE
        assert (
            sct.issuer_name == "issuerName" and sct.require_external_uri_reference and sct.sc13_security_context_token
        )
        assert sct.must_not_send_cancel and sct.must_not_send_amend and sct.must_not_send_renew
        assert sct.sc_version() is SC_1_3
    assert [bootstrap_of(t).unknown for t in tokens] == [("Test1",), ("Test2",)]


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("sp12_SecurityContextToken.xml", TokenKind.SECURITY_CONTEXT),
        ("sp12_SpnegoContextToken.xml", TokenKind.SPNEGO_CONTEXT),
    ],
)
def test_wss4j_token_assertions(vector_path: Vector, name: str, kind: TokenKind) -> None:
    empty, present = parse_policy(vector_path("wss4j-policy-and-schemas/" + name).read_bytes())
    assert empty == SecurityPolicy()
    (found,) = present.bare_tokens
    assert found.kind is kind and found.require_derived_keys and found.issuer_name == "issuerName"
    assert found.sc_version() is SC_1_3


# --- inline documents: WS-Policy semantics and hostile input ----------------------------------------------

WSP = 'xmlns:wsp="http://schemas.xmlsoap.org/ws/2004/09/policy"'
WSU = f'xmlns:wsu="{ns.WSU}"'
SP = f'xmlns:sp="{ns.SP12}"'


def policy_doc(body: str, wsp: str = WSP) -> bytes:
    return f'<wsp:Policy {wsp} {WSU} {SP} wsu:Id="root">{body}</wsp:Policy>'.encode()


def wsdl_doc(policies: str, binding_extra: str = "", port_extra: str = "", attrs: str = "") -> bytes:
    return f"""<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" {WSP} {WSU} {SP}
        xmlns:soap12="http://schemas.xmlsoap.org/wsdl/soap12/" xmlns:tns="urn:t" targetNamespace="urn:t">
      {policies}
      <wsdl:binding name="B" type="tns:I" {attrs}>{binding_extra}
        <soap12:binding transport="http://schemas.xmlsoap.org/soap/http"/>
      </wsdl:binding>
      <wsdl:service name="S"><wsdl:port name="P" binding="tns:B">
        <soap12:address location="https://host/svc"/>{port_extra}
      </wsdl:port></wsdl:service>
    </wsdl:definitions>""".encode()


SYMMETRIC = """<sp:SymmetricBinding><wsp:Policy>
  <sp:ProtectionToken><wsp:Policy><sp:SecureConversationToken><wsp:Policy><sp:RequireDerivedKeys/></wsp:Policy>
  </sp:SecureConversationToken></wsp:Policy></sp:ProtectionToken>
  <sp:AlgorithmSuite><wsp:Policy><sp:{suite}/></wsp:Policy></sp:AlgorithmSuite>
  <sp:Layout><wsp:Policy><sp:{layout}/></wsp:Policy></sp:Layout><sp:IncludeTimestamp/>
</wsp:Policy></sp:SymmetricBinding>"""


def identity(certificate_b64: str) -> str:
    """A WCF endpoint reference publishing a service certificate as its identity."""
    return f"""<wsa10:EndpointReference xmlns:wsa10="{ns.WSA10}"><wsa10:Address>https://host/svc</wsa10:Address>
      <Identity xmlns="http://schemas.xmlsoap.org/ws/2006/02/addressingidentity"><KeyInfo xmlns="{ns.DS}">
      <X509Data><X509Certificate>{certificate_b64}</X509Certificate></X509Data></KeyInfo></Identity>
      </wsa10:EndpointReference>"""


def der_b64(common_name: str) -> tuple[x509.Certificate, str]:
    certificate, _ = self_signed(common_name)
    return certificate, base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()


def test_optional_and_exactly_one_alternatives() -> None:
    body = '<sp:Wss11 wsp:Optional="true"><wsp:Policy/></sp:Wss11>'
    body += "<wsp:ExactlyOne><sp:Trust13/><sp:Trust10/></wsp:ExactlyOne>"
    policies = parse_policy(policy_doc(body, wsp='xmlns:wsp="http://www.w3.org/ns/ws-policy"'))
    assert [(p.wss11, p.trust10, p.trust13) for p in policies] == [
        (None, None, frozenset()),
        (None, frozenset(), None),
        (frozenset(), None, frozenset()),
        (frozenset(), frozenset(), None),
    ]


def test_unknown_suite_layout_and_assertions_are_reported() -> None:
    body = SYMMETRIC.format(suite="Basic256Exn", layout="LaxTsLast") + '<x:Odd xmlns:x="urn:x"/>'
    (policy,) = parse_policy(policy_doc(body))
    assert policy.suite_name == "Basic256Exn" and policy.suite is None and policy.unknown == ("{urn:x}Odd",)
    gaps = policy.unsupported()
    assert any("Basic256Exn" in g for g in gaps) and any("LaxTsLast" in g for g in gaps)
    assert any("{urn:x}Odd" in g for g in gaps)
    with pytest.raises(PolicyError, match="Basic256Exn"):
        policy.protection_policy()


def test_empty_signed_parts_mean_body_and_every_header() -> None:
    (policy,) = parse_policy(policy_doc(SYMMETRIC.format(suite="Basic128", layout="Strict") + "<sp:SignedParts/>"))
    assert policy.signed_parts is not None and policy.signed_parts.body and policy.signed_parts.all_headers
    assert policy.protection_policy().suite is BASIC128 and policy.requirements().signed_addressing_headers
    assert any("every header signed" in g for g in policy.unsupported())


def test_wsdl_attachments_port_identity_and_references_by_name() -> None:
    certificate, der = der_b64("CN=policy test service")
    symmetric = SYMMETRIC.format(suite="Basic128", layout="Lax")
    policies = f"""<wsp:Policy Name="urn:policies:binding">{symmetric}</wsp:Policy>
      <wsp:Policy wsu:Id="wss"><sp:Wss11><wsp:Policy/></sp:Wss11></wsp:Policy>"""
    inline = "<wsp:Policy><sp:Trust13><wsp:Policy><sp:RequireClientEntropy/></wsp:Policy></sp:Trust13></wsp:Policy>"
    doc = wsdl_doc(policies, inline, identity(der), attrs='wsp:PolicyURIs="urn:policies:binding #wss"')
    (binding,) = parse_wsdl(doc)
    policy = binding.policy
    assert policy.suite is BASIC128 and policy.wss11 == frozenset() and policy.trust13 == {"RequireClientEntropy"}
    assert policy.entropy_mode() is EntropyMode.CLIENT
    (port,) = binding.ports
    assert (port.service, port.name, port.binding, port.address) == ("S", "P", "B", "https://host/svc")
    assert port.soap is not None and port.soap.name == "1.2" and port.certificate == certificate
    assert port.policies == binding.policies


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            wsdl_doc(
                '<wsp:Policy wsu:Id="a"><wsp:PolicyReference URI="#b"/></wsp:Policy>'
                '<wsp:Policy wsu:Id="b"><wsp:PolicyReference URI="#a"/></wsp:Policy>',
                '<wsp:PolicyReference URI="#a"/>',
            ),
            "cycle",
        ),
        (policy_doc('<wsp:PolicyReference URI="#root"/>'), "cycle"),
        (policy_doc('<wsp:PolicyReference URI="http://example.com/policy.xml#p"/>'), "external"),
        (policy_doc('<wsp:PolicyReference URI="#missing"/>'), "names no policy"),
        (
            policy_doc("<wsp:ExactlyOne>" + "<wsp:All/>" * (MAX_POLICY_ALTERNATIVES + 1) + "</wsp:ExactlyOne>"),
            "alternatives",
        ),
        (policy_doc("".join(f'<x:A{i} xmlns:x="urn:x" wsp:Optional="true"/>' for i in range(7))), "alternatives"),
        (policy_doc(("<wsp:ExactlyOne>" + "<wsp:All/>" * 9 + "</wsp:ExactlyOne>") * 2), "alternatives"),
        (
            wsdl_doc(
                '<wsp:Policy wsu:Id="big">' + '<x:A xmlns:x="urn:x"/>' * 2000 + "</wsp:Policy>",
                attrs='wsp:PolicyURIs="' + " #big" * 600 + '"',
            ),
            "assertions",
        ),
        (
            wsdl_doc(
                "".join(
                    f'<wsp:Policy wsu:Id="p{i}"><wsp:PolicyReference URI="#p{i + 1}"/></wsp:Policy>' for i in range(40)
                )
                + '<wsp:Policy wsu:Id="p40"/>',
                '<wsp:PolicyReference URI="#p0"/>',
            ),
            "deeper",
        ),
        (
            policy_doc(
                "<sp:SymmetricBinding><wsp:Policy/></sp:SymmetricBinding><sp:TransportBinding><wsp:Policy/></sp:TransportBinding>"
            ),
            "more than one",
        ),
        (
            wsdl_doc(
                "",
                port_extra=identity("AAAA"),
            ),
            "certificate",
        ),
        (b"<wsdl:definitions xmlns:wsdl='urn:not-wsdl'/>", "neither"),
    ],
    ids=[
        "cycle",
        "self-reference",
        "external",
        "dangling",
        "union",
        "optional",
        "product",
        "amplification",
        "chain",
        "two-bindings",
        "bad-certificate",
        "not-wsdl",
    ],
)
def test_hostile_documents_are_typed_errors(document: bytes, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        parse_wsdl(document)


def test_dtd_and_depth_are_refused_by_the_parser() -> None:
    with pytest.raises(MalformedXML, match="DTD"):
        parse_wsdl(b'<!DOCTYPE x [<!ENTITY e "boom">]><wsp:Policy ' + WSP.encode() + b">&e;</wsp:Policy>")
    with pytest.raises(MalformedXML, match="deeper"):
        parse_policy(policy_doc("<wsp:Policy>" * 70 + "</wsp:Policy>" * 70))


def test_reference_chain_within_bounds_resolves() -> None:
    chain = "".join(f'<wsp:Policy wsu:Id="p{i}"><wsp:PolicyReference URI="#p{i + 1}"/></wsp:Policy>' for i in range(5))
    (binding,) = parse_wsdl(
        wsdl_doc(
            chain + f'<wsp:Policy wsu:Id="p5">{SYMMETRIC.format(suite="Basic256", layout="Strict")}</wsp:Policy>',
            '<wsp:PolicyReference URI="#p0"/>',
        )
    )
    assert binding.policy.suite is BASIC256 and binding.policy.sc_version() is SC_1_3


# --- wssc policy --------------------------------------------------------------------------------------------


def test_cli_text(vector_path: Vector) -> None:
    path = vector_path("cxf-wssc-wsdl/WSSecureConversation_policy.wsdl")
    result = CliRunner().invoke(main, ["policy", str(path), "--binding", "XDC-ES_IPingService"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("binding XDC-ES_IPingService (SOAP 1.2)\n")
    assert "SymmetricBinding (SP 2005/07): Basic128, layout Lax, encrypt-before-sign" in result.output
    assert "ProtectionToken: SecureConversationToken [AlwaysToRecipient] RequireDerivedKeys" in result.output
    assert "bootstrap policy:" in result.output and "WS-SC 2005-02, entropy combined" in result.output
    assert "wssc does not support:" not in result.output and "operation Ping input: signs Body" in result.output
    over_tls = CliRunner().invoke(
        main, ["policy", str(path), "--binding", "SecureConversation_UserNameOverTransport_IPingService"]
    )
    assert over_tls.exit_code == 3 and "wssc does not support:" in over_tls.output  # 3: wssc cannot do it all


def test_cli_json_with_certificate(tmp_path: Path) -> None:
    certificate, der = der_b64("CN=json service")
    path = tmp_path / "service.wsdl"
    path.write_bytes(
        wsdl_doc(
            f'<wsp:Policy wsu:Id="p">{SYMMETRIC.format(suite="Basic256", layout="Strict")}</wsp:Policy>',
            '<wsp:PolicyReference URI="#p"/>',
            identity(der),
        )
    )
    result = CliRunner().invoke(main, ["policy", str(path), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    (binding,) = report["bindings"]
    assert binding["name"] == "B" and binding["soap"] == "1.2"
    assert binding["ports"][0]["certificate"]["sha256"] == certificate.fingerprint(hashes.SHA256()).hex()
    (alternative,) = binding["alternatives"]
    assert alternative["binding"] == "SymmetricBinding" and alternative["suite"] == "Basic256"
    assert alternative["tokens"][0]["kind"] == "SecureConversationToken" and alternative["sc_version"] == "1.3"
    assert alternative["tokens"][0]["flags"] == ["RequireDerivedKeys"] and alternative["unsupported"] == []
    assert alternative["entropy_mode"] == "server" and alternative["layout"] == "Strict"


def test_cli_json_subprocess(vector_path: Vector) -> None:
    path = vector_path("wcf-docs-policies/SecureConversation_policy.xml")
    done = subprocess.run(
        [sys.executable, "-m", "wssc", "policy", str(path), "--json"], capture_output=True, check=True
    )
    (binding,) = json.loads(done.stdout)["bindings"]
    (alternative,) = binding["alternatives"]
    bootstrap = alternative["tokens"][0]["bootstrap"]
    assert bootstrap["tokens"][0]["kind"] == "SpnegoContextToken" and bootstrap["binding_namespace"] == ns.SP11
    assert alternative["entropy_mode"] == "combined" and alternative["protection_order"] == "sign-before-encrypt"
    assert alternative["flags"] == ["IncludeTimestamp", "EncryptSignature", "OnlySignEntireHeadersAndBody"]
    assert alternative["unsupported"] == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'<!DOCTYPE x><wsp:Policy xmlns:wsp="http://www.w3.org/ns/ws-policy"/>', "DTD"),
        (policy_doc('<wsp:PolicyReference URI="#root"/>'), "cycle"),
        (b"<not-xml", "well-formed"),
    ],
)
def test_cli_malformed_input_is_one_line(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.wsdl"
    path.write_bytes(content)
    done = subprocess.run(
        [sys.executable, "-m", "wssc", "policy", str(path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 1 and done.stdout == ""
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_cli_unknown_binding_and_missing_file(vector_path: Vector, tmp_path: Path) -> None:
    path = vector_path("cxf-wssc-wsdl/DoubleItWSSC.wsdl")
    result = CliRunner().invoke(main, ["policy", str(path), "--binding", "Nope"])
    assert result.exit_code == 1 and "no binding named 'Nope'" in result.output
    result = CliRunner().invoke(main, ["policy", str(tmp_path / "absent.wsdl")])
    assert result.exit_code == 2 and "no such file" in result.output and "Traceback" not in result.output
    document = vector_path("wcf-docs-policies/SspiNegotiated_policy.xml").read_bytes()
    result = CliRunner().invoke(main, ["policy", "-"], input=document)
    assert result.exit_code == 0 and result.output.startswith("binding SspiNegotiated_policy\n")


def test_errors_are_wssc_errors() -> None:
    assert issubclass(PolicyError, WsscError) and issubclass(MalformedXML, WsscError)
