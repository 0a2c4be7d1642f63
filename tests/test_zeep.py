"""zeep through WsscTransport: a WSDL-described operation called under a secure conversation, the answer
parsed by zeep from what wssc verified and decrypted (SOAP 1.1 and 1.2, both WS-SC versions)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest
import zeep
from lxml import etree

from wssc.adapters.asgi import WsscApp
from wssc.adapters.zeep_transport import WsscTransport
from wssc.conversation.bootstrap import ClientBootstrap, ServiceCredentials
from wssc.conversation.service import ApplicationRequest, SecureConversationService
from wssc.errors import WsscError
from wssc.security.soap import SOAP11, SOAP12, SOAPVersion
from wssc.tokens.x509 import self_signed
from wssc.versions import SC_1_3, SC_2005_02, SCVersion

SERVICE = self_signed("zeep service")
TNS = "urn:example:echo"
ADDRESS = "http://svc.test/echo"
WSDL = """<definitions xmlns="http://schemas.xmlsoap.org/wsdl/" xmlns:soapb="{binding_ns}"
  xmlns:tns="urn:example:echo" xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:example:echo">
 <types><xs:schema targetNamespace="urn:example:echo" elementFormDefault="qualified">
  <xs:element name="Echo"><xs:complexType><xs:sequence><xs:element name="text" type="xs:string"/>
  </xs:sequence></xs:complexType></xs:element>
  <xs:element name="EchoResponse"><xs:complexType><xs:sequence><xs:element name="text" type="xs:string"/>
  </xs:sequence></xs:complexType></xs:element>
 </xs:schema></types>
 <message name="EchoIn"><part name="parameters" element="tns:Echo"/></message>
 <message name="EchoOut"><part name="parameters" element="tns:EchoResponse"/></message>
 <portType name="EchoPortType"><operation name="Echo"><input message="tns:EchoIn"/><output message="tns:EchoOut"/>
 </operation></portType>
 <binding name="EchoBinding" type="tns:EchoPortType">
  <soapb:binding transport="http://schemas.xmlsoap.org/soap/http" style="document"/>
  <operation name="Echo"><soapb:operation soapAction="urn:example:echo/Echo" style="document"/>
   <input><soapb:body use="literal"/></input><output><soapb:body use="literal"/></output></operation>
 </binding>
 <service name="EchoService"><port name="EchoPort" binding="tns:EchoBinding">
  <soapb:address location="{address}"/></port></service>
</definitions>"""
BINDING_NS = {
    SOAP11.name: "http://schemas.xmlsoap.org/wsdl/soap/",
    SOAP12.name: "http://schemas.xmlsoap.org/wsdl/soap12/",
}


def _service() -> tuple[SecureConversationService, WsscApp]:
    service = SecureConversationService(ServiceCredentials(*SERVICE))
    app = WsscApp(service)

    @app.operation("urn:example:echo/Echo")
    def echo(request: ApplicationRequest) -> etree._Element:
        text = request.message.body.findtext(f".//{{{TNS}}}text") or ""
        answer = etree.Element(f"{{{TNS}}}EchoResponse", nsmap={"e": TNS})
        etree.SubElement(answer, f"{{{TNS}}}text").text = text.upper()
        return answer

    return service, app


def _wsdl(tmp_path: Path, soap: SOAPVersion) -> str:
    path = tmp_path / f"echo-{soap.name}.wsdl"
    path.write_text(WSDL.format(binding_ns=BINDING_NS[soap.name], address=ADDRESS))
    return str(path)


class Tamper(httpx.BaseTransport):
    """Passes messages to the service; flips one bit of the cipher text of application responses."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.armed = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        body = response.read()
        if self.armed and b"urn:example:echo/EchoResponse" in body:  # the (clear) wsa:Action of the answer
            marker = b"<xenc:CipherValue>"
            at = body.rindex(marker) + len(marker) + 30
            body = body[:at] + bytes([body[at] ^ 0x01]) + body[at + 1 :]
        return httpx.Response(response.status_code, headers=response.headers, content=body)


@pytest.mark.parametrize("soap", [SOAP12, SOAP11], ids=["soap12", "soap11"])
@pytest.mark.parametrize("version", [SC_1_3, SC_2005_02], ids=["1.3", "2005-02"])
def test_zeep_calls_an_operation_under_a_secure_conversation(
    tmp_path: Path, soap: SOAPVersion, version: SCVersion
) -> None:
    service, app = _service()
    http = httpx.Client(transport=httpx.WSGITransport(app=app.wsgi()))
    with WsscTransport(ClientBootstrap(SERVICE[0]), version=version, client_options={"http": http}) as transport:
        client = zeep.Client(_wsdl(tmp_path, soap), transport=transport)
        assert client.service.Echo(text="hello") == "HELLO"
        assert client.service.Echo(text="again") == "AGAIN"
        (conversation,) = transport.clients.values()
        assert conversation.session.settings.soap is soap
        context = conversation.session.context
        assert context is not None and service.store.get(context.identifier, context.created) is not None
    # Closing the transport cancelled the context.
    assert service.store.get(context.identifier, context.created) is None


def test_a_tampered_response_never_reaches_zeep(tmp_path: Path) -> None:
    _, app = _service()
    tamper = Tamper(httpx.WSGITransport(app=app.wsgi()))
    transport = WsscTransport(ClientBootstrap(SERVICE[0]), client_options={"http": httpx.Client(transport=tamper)})
    client = zeep.Client(_wsdl(tmp_path, SOAP12), transport=transport)
    assert client.service.Echo(text="clean") == "CLEAN"
    tamper.armed = True
    with pytest.raises(WsscError):
        client.service.Echo(text="tampered")
    tamper.armed = False
    assert client.service.Echo(text="clean again") == "CLEAN AGAIN"
    transport.close()


def test_application_headers_travel_signed(tmp_path: Path) -> None:
    _, app = _service()
    seen: list[tuple[str | None, bool]] = []

    @app.operation("urn:example:echo/Echo")
    def echo(request: ApplicationRequest) -> etree._Element:
        header = request.message.header
        tenant = header.find("{urn:example:custom}Tenant") if header is not None else None
        seen.append((None if tenant is None else tenant.text, tenant is not None and request.message.is_signed(tenant)))
        answer = etree.Element(f"{{{TNS}}}EchoResponse", nsmap={"e": TNS})
        etree.SubElement(answer, f"{{{TNS}}}text").text = "ok"
        return answer

    http = httpx.Client(transport=httpx.WSGITransport(app=app.wsgi()))
    transport = WsscTransport(ClientBootstrap(SERVICE[0]), client_options={"http": http})
    client = zeep.Client(_wsdl(tmp_path, SOAP12), transport=transport)
    custom = etree.Element("{urn:example:custom}Tenant")
    custom.text = "blue"
    assert client.service.Echo(text="x", _soapheaders=[custom]) == "ok"
    assert seen == [("blue", True)]
    transport.close()


SP12 = "http://docs.oasis-open.org/ws-sx/ws-securitypolicy/200702"
SP11 = "http://schemas.xmlsoap.org/ws/2005/07/securitypolicy"


def _policy(sp: str, bootstrap_token: str, supporting: str = "") -> str:
    """What WCF publishes for wsHttpBinding + establishSecurityContext, without service-credential negotiation."""
    binding = """<sp:SymmetricBinding><wsp:Policy><sp:ProtectionToken><wsp:Policy>{token}</wsp:Policy>
      </sp:ProtectionToken><sp:AlgorithmSuite><wsp:Policy><sp:Basic256/></wsp:Policy></sp:AlgorithmSuite>
      <sp:Layout><wsp:Policy><sp:Strict/></wsp:Policy></sp:Layout><sp:IncludeTimestamp/><sp:EncryptSignature/>
      <sp:OnlySignEntireHeadersAndBody/></wsp:Policy></sp:SymmetricBinding>"""
    trust = "Trust13" if sp == SP12 else "Trust10"
    trust_xml = (
        f"<sp:{trust}><wsp:Policy><sp:RequireClientEntropy/><sp:RequireServerEntropy/></wsp:Policy></sp:{trust}>"
    )
    bootstrap = binding.format(token=bootstrap_token) + supporting + trust_xml
    sct = (
        f'<sp:SecureConversationToken sp:IncludeToken="{sp}/IncludeToken/AlwaysToRecipient"><wsp:Policy>'
        f"<sp:RequireDerivedKeys/><sp:BootstrapPolicy><wsp:Policy>{bootstrap}</wsp:Policy></sp:BootstrapPolicy>"
        "</wsp:Policy></sp:SecureConversationToken>"
    )
    return (
        f'<wsp:Policy wsu:Id="EchoPolicy" xmlns:wsp="http://schemas.xmlsoap.org/ws/2004/09/policy" xmlns:sp="{sp}" '
        'xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">'
        f"<wsp:ExactlyOne><wsp:All>{binding.format(token=sct)}{trust_xml}</wsp:All></wsp:ExactlyOne></wsp:Policy>"
    )


X509_TOKEN = (
    '<sp:X509Token sp:IncludeToken="{sp}/IncludeToken/Never"><wsp:Policy><sp:RequireDerivedKeys/>'
    "<sp:RequireThumbprintReference/><sp:WssX509V3Token10/></wsp:Policy></sp:X509Token>"
)
USERNAME_SUPPORTING = (
    '<sp:SignedEncryptedSupportingTokens><wsp:Policy><sp:UsernameToken sp:IncludeToken="{sp}/IncludeToken/'
    'AlwaysToRecipient"><wsp:Policy><sp:WssUsernameToken10/></wsp:Policy></sp:UsernameToken></wsp:Policy>'
    "</sp:SignedEncryptedSupportingTokens>"
)


def _wsdl_with_policy(tmp_path: Path, policy: str, publish_certificate: bool) -> str:
    import base64

    from cryptography.hazmat.primitives import serialization

    der = base64.b64encode(SERVICE[0].public_bytes(serialization.Encoding.DER)).decode()
    identity = (
        '<wsa10:EndpointReference xmlns:wsa10="http://www.w3.org/2005/08/addressing">'
        f"<wsa10:Address>{ADDRESS}</wsa10:Address>"
        '<Identity xmlns="http://schemas.xmlsoap.org/ws/2006/02/addressingidentity">'
        '<KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data>'
        f"<X509Certificate>{der}</X509Certificate></X509Data></KeyInfo></Identity></wsa10:EndpointReference>"
    )
    text = WSDL.format(binding_ns=BINDING_NS[SOAP12.name], address=ADDRESS)
    text = text.replace("<types>", policy + "<types>", 1)
    text = text.replace(
        '<binding name="EchoBinding" type="tns:EchoPortType">',
        '<binding name="EchoBinding" type="tns:EchoPortType"><wsp:PolicyReference '
        'xmlns:wsp="http://schemas.xmlsoap.org/ws/2004/09/policy" URI="#EchoPolicy"/>',
    )
    if publish_certificate:
        text = text.replace("</port>", identity + "</port>")
    path = tmp_path / "echo-policy.wsdl"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("sp", [SP12, SP11], ids=["sp12", "sp11"])
def test_zeep_configures_the_conversation_from_the_wsdl_policy(tmp_path: Path, sp: str) -> None:
    """No bootstrap given: the WSDL's policy says AnonymousForCertificate, the WS-SC version (SP 1.2 -> 1.3,
    SP 2005/07 -> Feb 2005), combined entropy; the endpoint identity publishes the service certificate."""
    service, app = _service()
    http = httpx.Client(transport=httpx.WSGITransport(app=app.wsgi()))
    policy = _policy(sp, X509_TOKEN.format(sp=sp))
    with WsscTransport(client_options={"http": http}) as transport:
        client = zeep.Client(_wsdl_with_policy(tmp_path, policy, publish_certificate=True), transport=transport)
        assert client.service.Echo(text="configured") == "CONFIGURED"
        (conversation,) = transport.clients.values()
        assert conversation.session.settings.version is (SC_1_3 if sp == SP12 else SC_2005_02)
        assert conversation.session.settings.entropy_mode.name == "COMBINED"
        context = conversation.session.context
        assert context is not None and service.store.get(context.identifier, context.created) is not None


def test_zeep_policy_configuration_asks_for_what_it_needs(tmp_path: Path) -> None:
    from wssc.conversation.policy_client import ClientCredentials
    from wssc.policy.ws_policy import PolicyError

    service = SecureConversationService(ServiceCredentials(*SERVICE, users={"alice": "wonderland"}))
    app = WsscApp(service)

    @app.operation("urn:example:echo/Echo")
    def echo(request: ApplicationRequest) -> etree._Element:
        answer = etree.Element(f"{{{TNS}}}EchoResponse", nsmap={"e": TNS})
        etree.SubElement(answer, f"{{{TNS}}}text").text = request.claims[0].value
        return answer

    http = httpx.Client(transport=httpx.WSGITransport(app=app.wsgi()))
    policy = _policy(SP12, X509_TOKEN.format(sp=SP12), USERNAME_SUPPORTING.format(sp=SP12))
    wsdl = _wsdl_with_policy(tmp_path, policy, publish_certificate=False)
    # Neither a service certificate nor a user name: refused with what is missing, before anything is sent.
    with pytest.raises(PolicyError, match="service certificate"):
        zeep.Client(wsdl, transport=WsscTransport(client_options={"http": http})).service.Echo(text="x")
    credentials = ClientCredentials(service_certificate=SERVICE[0])
    with pytest.raises(PolicyError, match="user name"):
        zeep.Client(wsdl, transport=WsscTransport(credentials=credentials, client_options={"http": http})).service.Echo(
            text="x"
        )
    credentials = ClientCredentials(username="alice", password="wonderland", service_certificate=SERVICE[0])
    with WsscTransport(credentials=credentials, client_options={"http": http}) as transport:
        assert zeep.Client(wsdl, transport=transport).service.Echo(text="x") == "alice"


def test_negotiated_bindings_configure_a_negotiating_client(tmp_path: Path, vector_path) -> None:  # type: ignore[no-untyped-def]
    from wssc.conversation.negotiating import NegotiatedBootstrap
    from wssc.conversation.policy_client import configure_client
    from wssc.policy.wsdl import parse_policy

    (policy,) = parse_policy(vector_path("wcf-docs-policies/SecureConversation_policy.xml").read_bytes())
    config = configure_client(policy, target="host/server.example")
    assert isinstance(config.bootstrap, NegotiatedBootstrap) and config.establish_security_context


def test_zeep_async_client_through_async_transport(tmp_path: Path) -> None:
    """zeep.AsyncClient with AsyncWsscTransport, the service an ASGI app reached in process."""
    import asyncio

    from wssc.adapters.zeep_transport import AsyncWsscTransport

    service, app = _service()

    async def run() -> tuple[str, str, str]:
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app))
        transport = AsyncWsscTransport(ClientBootstrap(SERVICE[0]), version=SC_2005_02, client_options={"http": http})
        async with transport:
            client = zeep.AsyncClient(_wsdl(tmp_path, SOAP12), transport=transport)
            first = await client.service.Echo(text="async")
            second = await client.service.Echo(text="again")
            (conversation,) = transport.clients.values()
            context = conversation.session.context
            assert context is not None and service.store.get(context.identifier, context.created) is not None
            identifier = context.identifier
        return first, second, identifier

    first, second, identifier = asyncio.run(run())
    assert (first, second) == ("ASYNC", "AGAIN")
    assert service.store.get(identifier, datetime.now(timezone.utc)) is None  # cancelled on exit


@pytest.mark.parametrize("version", [SC_1_3, SC_2005_02], ids=["1.3", "2005-02"])
def test_zeep_configures_itself_from_a_wssc_service_wsdl(version: SCVersion) -> None:
    """A wssc service publishes its WSDL at ?wsdl with its security policy and certificate attached (as WCF
    does); zeep with a bare WsscTransport reads them and calls, as alice for a password service."""
    from http_support import LiveServer
    from wssc.conversation.policy_client import ClientCredentials
    from wssc.conversation.settings import ServiceSettings

    credentials = ServiceCredentials(*SERVICE, users={"alice": "wonderland"})
    service = SecureConversationService(credentials, settings=ServiceSettings(version=version))
    app = WsscApp(service, wsdl=WSDL.format(binding_ns=BINDING_NS[SOAP12.name], address="http://placeholder/").encode())

    @app.operation("urn:example:echo/Echo")
    def echo(request: ApplicationRequest) -> etree._Element:
        answer = etree.Element(f"{{{TNS}}}EchoResponse", nsmap={"e": TNS})
        etree.SubElement(answer, f"{{{TNS}}}text").text = request.claims[0].value
        return answer

    with LiveServer(app) as server:
        published = httpx.get(server.url + "?wsdl")
        assert published.status_code == 200 and b"SecureConversationToken" in published.content
        assert server.url.encode() in published.content  # the ports point where the WSDL was asked from
        alice = ClientCredentials(username="alice", password="wonderland")
        with WsscTransport(credentials=alice) as transport:
            client = zeep.Client(server.url + "?wsdl", transport=transport)
            assert client.service.Echo(text="x") == "alice"
            (conversation,) = transport.clients.values()
            assert conversation.session.settings.version is version


def test_zeep_against_wssc_serve(tmp_path: Path) -> None:
    """`wssc serve` publishes /echo?wsdl; zeep configures itself from it and echoes through the context."""
    from http_support import ServeProcess

    server = ServeProcess(tmp_path)
    try:
        with WsscTransport() as transport:
            client = zeep.Client(server.url + "?wsdl", transport=transport)
            assert client.service.Echo("hello from zeep") == "hello from zeep"
    finally:
        server.stop()


def test_the_transport_follows_the_first_alternative_it_can(tmp_path: Path) -> None:
    """Policy alternatives (WS-Policy 1.5 section 3.2): the requester picks one; Kerberos first, then the X.509
    bootstrap: the transport takes the second, and an endpoint offering only Kerberos is refused by name."""
    from wssc.policy.ws_policy import PolicyError

    kerberos = f'<sp:KerberosToken sp:IncludeToken="{SP12}/IncludeToken/Once"/>'

    def alternative(token: str) -> str:
        policy = _policy(SP12, token)
        return policy[policy.index("<wsp:All>") : policy.rindex("</wsp:All>") + len("</wsp:All>")]

    both = _policy(SP12, X509_TOKEN.format(sp=SP12)).replace(
        "<wsp:ExactlyOne>", "<wsp:ExactlyOne>" + alternative(kerberos), 1
    )
    _, app = _service()
    http = httpx.Client(transport=httpx.WSGITransport(app=app.wsgi()))
    with WsscTransport(client_options={"http": http}) as transport:
        client = zeep.Client(_wsdl_with_policy(tmp_path, both, publish_certificate=True), transport=transport)
        assert client.service.Echo(text="second") == "SECOND"
    only_kerberos = _policy(SP12, kerberos)
    (tmp_path / "only").mkdir()
    with WsscTransport(client_options={"http": http}) as transport:
        client = zeep.Client(_wsdl_with_policy(tmp_path / "only", only_kerberos, True), transport=transport)
        with pytest.raises(PolicyError, match=r"X.509|Kerberos"):
            client.service.Echo(text="x")
