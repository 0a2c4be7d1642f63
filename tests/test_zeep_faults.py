"""An application fault inside a protected reply surfaces as ``zeep.exceptions.Fault`` with its code, reason and
detail (SOAP 1.1 and 1.2): a handler raises ``ApplicationFault``, the app protects the fault under the context
(HTTP 500), the client verifies and decrypts it, zeep parses it.  wssc's own faults, unprotected, still raise
the typed WsscError."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
import zeep
import zeep.exceptions
from lxml import etree

from test_zeep import SERVICE, TNS, _wsdl
from wssc.adapters.asgi import ApplicationFault, WsscApp
from wssc.adapters.zeep_transport import AsyncWsscTransport, WsscTransport
from wssc.conversation.bootstrap import ClientBootstrap, ServiceCredentials
from wssc.conversation.service import ApplicationRequest, SecureConversationService
from wssc.errors import InvalidSecurity, RequestFailed
from wssc.security.soap import SOAP11, SOAP12, SOAPVersion

REASON = "none left in the warehouse"
APP = "urn:example:shop"


class Responses:
    """Every HTTP response the client receives: status and body as they came off the wire."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, bytes]] = []

    def hook(self, response: httpx.Response) -> None:
        self.seen.append((response.status_code, response.read()))


def _app() -> WsscApp:
    app = WsscApp(SecureConversationService(ServiceCredentials(*SERVICE)))

    @app.operation("urn:example:echo/Echo")
    def echo(request: ApplicationRequest) -> etree._Element:
        text = request.message.body.findtext(f".//{{{TNS}}}text") or ""
        if text == "out of stock":
            stock = etree.Element(f"{{{APP}}}Stock", nsmap={"shop": APP})
            stock.text = "0"
            raise ApplicationFault(f"{{{APP}}}OutOfStock", REASON, stock)
        if text == "bad input":
            raise ApplicationFault("Sender", "the text is not acceptable")
        if text == "bug":
            raise ZeroDivisionError("a bug in the handler")
        answer = etree.Element(f"{{{TNS}}}EchoResponse", nsmap={"e": TNS})
        etree.SubElement(answer, f"{{{TNS}}}text").text = text.upper()
        return answer

    return app


@pytest.mark.parametrize("soap", [SOAP12, SOAP11], ids=["soap12", "soap11"])
def test_an_application_fault_reaches_zeep_as_fault(tmp_path: Path, soap: SOAPVersion) -> None:
    responses = Responses()
    http = httpx.Client(transport=httpx.WSGITransport(app=_app().wsgi()), event_hooks={"response": [responses.hook]})
    with WsscTransport(ClientBootstrap(SERVICE[0]), client_options={"http": http}) as transport:
        client = zeep.Client(_wsdl(tmp_path, soap), transport=transport)
        with pytest.raises(zeep.exceptions.Fault) as caught:
            client.service.Echo(text="out of stock")
        fault = caught.value
        assert fault.message == REASON
        assert fault.detail is not None and fault.detail.findtext(f"{{{APP}}}Stock") == "0"
        if soap is SOAP11:
            assert fault.code == "f:OutOfStock"
        else:
            assert fault.code == "s:Receiver"
            assert fault.subcodes == [etree.QName(APP, "OutOfStock")]
        with pytest.raises(zeep.exceptions.Fault) as caught:
            client.service.Echo(text="bad input")
        assert caught.value.code == ("s:Client" if soap is SOAP11 else "s:Sender")
        assert caught.value.message == "the text is not acceptable"
        # the conversation carries on after a fault
        assert client.service.Echo(text="fine") == "FINE"
        assert len(transport.clients) == 1
    # The fault travelled encrypted under the context, with HTTP 500 (what WCF sends).
    faults = [(status, body) for status, body in responses.seen if status == 500]
    assert len(faults) == 2
    assert all(REASON.encode() not in body and b"OutOfStock" not in body for _, body in faults)
    assert all(b"EncryptedData" in body for _, body in faults)


def test_wssc_faults_stay_typed_errors(tmp_path: Path) -> None:
    """An unprotected fault (a handler's bug -> wst:RequestFailed; no operation for the action ->
    wsse:InvalidSecurity) is wssc's own: the typed error, never handed to zeep as if the service had said it."""
    app = _app()
    http = httpx.Client(transport=httpx.WSGITransport(app=app.wsgi()))
    with WsscTransport(ClientBootstrap(SERVICE[0]), client_options={"http": http}) as transport:
        client = zeep.Client(_wsdl(tmp_path, SOAP12), transport=transport)
        with pytest.raises(RequestFailed):
            client.service.Echo(text="bug")
        del app.handlers["urn:example:echo/Echo"]
        with pytest.raises(InvalidSecurity):
            client.service.Echo(text="x")


def test_an_application_fault_reaches_zeeps_async_client(tmp_path: Path) -> None:
    app = _app()

    async def run() -> zeep.exceptions.Fault:
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app))
        async with AsyncWsscTransport(ClientBootstrap(SERVICE[0]), client_options={"http": http}) as transport:
            client = zeep.AsyncClient(_wsdl(tmp_path, SOAP12), transport=transport)
            try:
                await client.service.Echo(text="out of stock")
            except zeep.exceptions.Fault as fault:
                return fault
        raise AssertionError("no fault")

    fault = asyncio.run(run())
    assert (fault.message, fault.subcodes) == (REASON, [etree.QName(APP, "OutOfStock")])


def test_application_fault_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="fault code"):
        ApplicationFault("OutOfStock", "no namespace")
    with pytest.raises(ValueError, match="subcode"):
        ApplicationFault("Sender", "x", subcode="Bad")


def test_an_application_fault_over_real_http(tmp_path: Path) -> None:
    """The same through uvicorn and the session-configured httpx client: HTTP 500 on the wire, zeep's Fault."""
    from http_support import LiveServer
    from test_zeep import BINDING_NS, WSDL

    with LiveServer(_app()) as server:
        wsdl = tmp_path / "shop.wsdl"
        wsdl.write_text(WSDL.format(binding_ns=BINDING_NS[SOAP11.name], address=server.url))
        with WsscTransport(ClientBootstrap(SERVICE[0])) as transport:
            client = zeep.Client(str(wsdl), transport=transport)
            with pytest.raises(zeep.exceptions.Fault) as caught:
                client.service.Echo(text="out of stock")
            assert (caught.value.code, caught.value.message) == ("f:OutOfStock", REASON)
            assert client.service.Echo(text="after") == "AFTER"
