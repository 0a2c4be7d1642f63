"""zeep through WsscTransport: a WSDL-described operation called under a secure conversation, the answer
parsed by zeep from what wssc verified and decrypted (SOAP 1.1 and 1.2, both WS-SC versions)."""

from __future__ import annotations

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
        assert conversation.session.soap is soap
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
