"""zeep against a wssc service that publishes a negotiated binding (issue 9, "Done means" 2): the transport reads
the SpnegoContextToken or SslContextToken policy and the port's endpoint identity from ``?wsdl`` and negotiates
with nothing but the caller's credentials."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import zeep
from cryptography.x509.oid import ExtendedKeyUsageOID
from lxml import etree

from http_support import LiveServer
from pki import CLIENT, ROOT, issue, pem
from wssc.adapters.asgi import WsscApp
from wssc.adapters.zeep_transport import WsscTransport
from wssc.conversation.bootstrap import ServiceCredentials
from wssc.conversation.negotiating import NegotiatedBootstrap
from wssc.conversation.negotiation import Negotiator
from wssc.conversation.policy_client import ClientCredentials
from wssc.conversation.service import ApplicationRequest, SecureConversationService
from wssc.conversation.settings import ServiceSettings
from wssc.tokens.x509_trust import CertificateTrust
from wssc.versions import SC_1_3, SC_2005_02, SCVersion

SERVICE = issue("service.example", ROOT, usages=[ExtendedKeyUsageOID.SERVER_AUTH], dns_names=["service.example"])
TNS = "urn:example:echo"
WSDL = f"""<definitions xmlns="http://schemas.xmlsoap.org/wsdl/" xmlns:soap12="http://schemas.xmlsoap.org/wsdl/soap12/"
 xmlns:tns="{TNS}" xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="{TNS}">
 <types><xs:schema targetNamespace="{TNS}" elementFormDefault="qualified">
  <xs:element name="Echo"><xs:complexType><xs:sequence><xs:element name="text" type="xs:string"/></xs:sequence>
  </xs:complexType></xs:element>
  <xs:element name="EchoResponse"><xs:complexType><xs:sequence><xs:element name="text" type="xs:string"/>
  </xs:sequence></xs:complexType></xs:element></xs:schema></types>
 <message name="In"><part name="parameters" element="tns:Echo"/></message>
 <message name="Out"><part name="parameters" element="tns:EchoResponse"/></message>
 <portType name="Echo"><operation name="Echo"><input message="tns:In"/><output message="tns:Out"/></operation>
 </portType>
 <binding name="EchoBinding" type="tns:Echo"><soap12:binding transport="http://schemas.xmlsoap.org/soap/http"/>
  <operation name="Echo"><soap12:operation soapAction="urn:example:echo/Echo" style="document"/>
   <input><soap12:body use="literal"/></input><output><soap12:body use="literal"/></output></operation></binding>
 <service name="EchoService"><port name="Echo" binding="tns:EchoBinding">
  <soap12:address location="http://placeholder/"/></port></service>
</definitions>""".encode()


def _app(negotiator: Negotiator, version: SCVersion, users: dict[str, str] | None = None) -> WsscApp:
    credentials = ServiceCredentials(*SERVICE, users=users)
    settings = ServiceSettings(version=version, bootstrap=negotiator.bootstrap)
    service = SecureConversationService(credentials, settings=settings, negotiator=negotiator)
    app = WsscApp(service, wsdl=WSDL)

    @app.operation("urn:example:echo/Echo")
    def echo(request: ApplicationRequest) -> etree._Element:
        names = [c.value for c in request.claims if c.type in ("name", "x509")] or ["anonymous"]
        answer = etree.Element(f"{{{TNS}}}EchoResponse", nsmap={"e": TNS})
        etree.SubElement(answer, f"{{{TNS}}}text").text = names[0]
        return answer

    return app


def _call(app: WsscApp, credentials: ClientCredentials, *, expect_in_wsdl: bytes) -> str:
    with LiveServer(app) as server:
        published = httpx.get(server.url + "?wsdl")
        assert published.status_code == 200 and expect_in_wsdl in published.content
        with WsscTransport(credentials=credentials) as transport:
            client = zeep.Client(server.url + "?wsdl", transport=transport)
            answer = client.service.Echo(text="x")
            (conversation,) = transport.clients.values()
            assert isinstance(conversation.session.bootstrap, NegotiatedBootstrap)
            assert conversation.session.bootstrap.context is not None
            return str(answer)


VERSIONS = [pytest.param(SC_1_3, id="1.3"), pytest.param(SC_2005_02, id="2005-02")]


@pytest.mark.parametrize("version", VERSIONS)
def test_zeep_tlsnego_from_the_wsdl(tmp_path: Path, version: SCVersion) -> None:
    (tmp_path / "ca.pem").write_bytes(pem(ROOT[0]))
    app = _app(Negotiator.tlsnego(*SERVICE), version)
    answer = _call(app, ClientCredentials(verify=str(tmp_path / "ca.pem")), expect_in_wsdl=b"SslContextToken")
    assert answer == "anonymous"


def test_zeep_username_for_ssl_from_the_wsdl(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_bytes(pem(ROOT[0]))
    app = _app(Negotiator.tlsnego(*SERVICE), SC_2005_02, users={"alice": "secret"})
    credentials = ClientCredentials("alice", "secret", verify=str(tmp_path / "ca.pem"))
    assert _call(app, credentials, expect_in_wsdl=b"UsernameToken") == "alice"


def test_zeep_mutual_ssl_from_the_wsdl(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_bytes(pem(ROOT[0]))
    trust = CertificateTrust(anchors=[ROOT[0]])
    app = _app(Negotiator.tlsnego(*SERVICE, client_trust=trust, require_client_certificate=True), SC_1_3)
    credentials = ClientCredentials(certificate=CLIENT[0], private_key=CLIENT[1], verify=str(tmp_path / "ca.pem"))
    assert _call(app, credentials, expect_in_wsdl=b"RequireClientCertificate") == CLIENT[0].subject.rfc4514_string()


@pytest.mark.parametrize("version", VERSIONS)
def test_zeep_spnego_ntlm_from_the_wsdl(version: SCVersion) -> None:
    negotiator = Negotiator.spnego(ntlm_users={"WSSC\\bob": "ntlm-secret"}, protocol="ntlm", spn="HTTP/service.example")
    credentials = ClientCredentials("WSSC\\bob", "ntlm-secret", protocol="ntlm")
    answer = _call(_app(negotiator, version), credentials, expect_in_wsdl=b"Spn>HTTP/service.example</")
    assert answer.lower() == "wssc\\bob"


WCF_DOCS = [
    ("SspiNegotiated_policy.xml", False, "1.3"),
    ("AnonymousForSslNegotiated_policy.xml", False, "1.3"),
    ("MutualSslNegotiated_policy.xml", False, "1.3"),
    ("SecureConversation_policy.xml", True, "2005-02"),  # wsHttpBinding: SPNEGO as the SC bootstrap
]


@pytest.mark.parametrize(("name", "establish", "version"), WCF_DOCS)
def test_wcf_documented_negotiated_policies_configure_a_client(vector_path, name, establish, version) -> None:
    from wssc.conversation.policy_client import configure_client
    from wssc.policy.wsdl import parse_policy

    (policy,) = parse_policy(vector_path("wcf-docs-policies/" + name).read_bytes())
    credentials = ClientCredentials(certificate=CLIENT[0], private_key=CLIENT[1], spn="HTTP/service.example")
    config = configure_client(policy, credentials=credentials)
    assert isinstance(config.bootstrap, NegotiatedBootstrap)
    assert (config.establish_security_context, config.version.name) == (establish, version)


def test_cxf_spnego_wsdl_ports(vector_path) -> None:
    """CXF's DoubleItSpnego.wsdl: the symmetric ports negotiate (the SecureConversation one as the SC bootstrap);
    SPNEGO endorsing a TransportBinding (HTTPS mixed mode) is refused by name."""
    from wssc.conversation.policy_client import ClientConfiguration
    from wssc.policy.ws_policy import PolicyError

    transport = WsscTransport(credentials=ClientCredentials(protocol="kerberos"))
    transport._read_policies(vector_path("cxf-wssc-wsdl/DoubleItSpnego.wsdl").read_bytes())
    symmetric = {a: c for a, c in transport.endpoints.items() if "Symmetric" in a}
    assert len(symmetric) == 4 and all(isinstance(c, ClientConfiguration) for c in symmetric.values())
    assert all(isinstance(c.bootstrap, NegotiatedBootstrap) for c in symmetric.values())  # type: ignore[union-attr]
    over_https = [c for a, c in transport.endpoints.items() if "Transport" in a]
    assert over_https and all(isinstance(c, PolicyError) and "SPNEGO over HTTPS" in str(c) for c in over_https)
