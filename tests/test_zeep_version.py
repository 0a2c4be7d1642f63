"""Which WS-SecureConversation version the zeep transport speaks: the WSDL policy's (its context token, else its
SP namespace when WCF's establishSecurityContext=false leaves no context token); February 2005 (WCF's
wsHttpBinding) for a bootstrap given by hand without ``version=``."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import zeep
from lxml import etree

from test_zeep import SERVICE, SP11, SP12, TNS, X509_TOKEN, _policy, _service, _wsdl, _wsdl_with_policy
from wssc.adapters.asgi import WsscApp
from wssc.adapters.zeep_transport import WsscTransport
from wssc.conversation.bootstrap import ClientBootstrap, ServiceCredentials
from wssc.conversation.service import ApplicationRequest, SecureConversationService
from wssc.conversation.settings import ServiceSettings
from wssc.security.soap import SOAP12
from wssc.versions import SC_1_3, SC_2005_02


def test_a_hand_bootstrap_speaks_february_2005_unless_told(tmp_path: Path) -> None:
    _, app = _service()
    http = httpx.Client(transport=httpx.WSGITransport(app=app.wsgi()))
    for given, expected in [({}, SC_2005_02), ({"version": SC_1_3}, SC_1_3)]:
        with WsscTransport(ClientBootstrap(SERVICE[0]), client_options={"http": http}, **given) as transport:  # type: ignore[arg-type]
            assert zeep.Client(_wsdl(tmp_path, SOAP12), transport=transport).service.Echo(text="v") == "V"
            (conversation,) = transport.clients.values()
            assert conversation.session.settings.version is expected
            context = conversation.session.context
            assert context is not None and context.version is expected


@pytest.mark.parametrize(("sp", "expected"), [(SP11, SC_2005_02), (SP12, SC_1_3)], ids=["sp2005-07", "sp1.2"])
def test_no_context_token_takes_the_version_of_the_sp_namespace(tmp_path: Path, sp: str, expected: object) -> None:
    """establishSecurityContext=false: the SymmetricBinding over the service certificate protects every message;
    the SP namespace tells the generation (derived keys in its WS-SC namespace)."""
    policy = _policy(sp, X509_TOKEN.format(sp=sp))
    opening, closing = "<sp:BootstrapPolicy><wsp:Policy>", "</wsp:Policy></sp:BootstrapPolicy>"
    bootstrap = policy[policy.index(opening) + len(opening) : policy.index(closing)]
    no_context = (
        policy[: policy.index("<wsp:All>") + len("<wsp:All>")] + bootstrap + "</wsp:All></wsp:ExactlyOne></wsp:Policy>"
    )
    assert "SecureConversationToken" not in no_context and "X509Token" in no_context
    service = SecureConversationService(
        ServiceCredentials(*SERVICE), settings=ServiceSettings(accept_bootstrap_messages=True)
    )
    app = WsscApp(service)

    @app.operation("urn:example:echo/Echo")
    def echo(request: ApplicationRequest) -> etree._Element:
        assert request.context is None  # protected by the bootstrap binding alone
        answer = etree.Element(f"{{{TNS}}}EchoResponse", nsmap={"e": TNS})
        etree.SubElement(answer, f"{{{TNS}}}text").text = "no context"
        return answer

    http = httpx.Client(transport=httpx.WSGITransport(app=app.wsgi()))
    with WsscTransport(client_options={"http": http}) as transport:
        client = zeep.Client(_wsdl_with_policy(tmp_path, no_context, publish_certificate=True), transport=transport)
        assert client.service.Echo(text="x") == "no context"
        (conversation,) = transport.clients.values()
        assert not conversation.session.settings.establish_security_context
        assert conversation.session.settings.version is expected
