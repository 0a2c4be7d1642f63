"""Interleaved negotiations (issue 9): legs of several clients arriving in any order at one service, and clients
negotiating at once over HTTP; none harms another, and every pending state is gone at the end."""

from __future__ import annotations

import threading
from typing import Any

from cryptography.x509.oid import ExtendedKeyUsageOID
from lxml import etree

from http_support import LiveServer
from negotiation_support import ECHO_ACTION, echo_body
from pki import ROOT, issue
from wssc.adapters.asgi import WsscApp, echo_handler
from wssc.adapters.http_client import WsscClient
from wssc.conversation.bootstrap import ServiceCredentials
from wssc.conversation.context import SecurityContext
from wssc.conversation.negotiating import NegotiatedBootstrap, tlsnego
from wssc.conversation.negotiation import Negotiator
from wssc.conversation.service import SecureConversationService, ServiceSettings
from wssc.security.soap import SOAP12
from wssc.versions import SC_1_3, SC_2005_02

SERVICE = issue("service.example", ROOT, usages=[ExtendedKeyUsageOID.SERVER_AUTH], dns_names=["service.example"])


def _service() -> SecureConversationService:
    settings = ServiceSettings(bootstrap="tlsnego", accept_bootstrap_messages=True)
    return SecureConversationService(
        ServiceCredentials(*SERVICE), settings=settings, negotiator=Negotiator.tlsnego(*SERVICE)
    )


def test_legs_of_several_negotiations_in_any_order() -> None:
    service = _service()
    assert service.negotiation is not None
    negotiations = [
        NegotiatedBootstrap(tlsnego(service_certificate=SERVICE[0])).negotiation(version, SOAP12, "http://x/")
        for version in (SC_1_3, SC_2005_02, SC_1_3, SC_2005_02, SC_1_3)
    ]
    steps: list[Any] = [n.first() for n in negotiations]
    results: list[SecurityContext | None] = [None] * len(negotiations)
    rounds = 0
    while any(r is None for r in results):
        rounds += 1
        order = range(len(negotiations)) if rounds % 2 else reversed(range(len(negotiations)))
        for i in order:  # every round, each client's next leg, the order reversed each time
            if results[i] is not None:
                continue
            reply = service.receive(steps[i][0]).reply.data  # type: ignore[union-attr]
            result = negotiations[i].receive(reply)
            if isinstance(result, SecurityContext):
                results[i] = result
            else:
                steps[i] = result
    identifiers = {r.identifier for r in results if r is not None}
    assert len(identifiers) == len(negotiations) and service.negotiation.acceptor.pending == 0
    keys = {r.key for r in results if r is not None}
    assert len(keys) == len(negotiations)


def test_clients_negotiating_at_once_over_http() -> None:
    service = _service()
    app = WsscApp(service, default=echo_handler, path="/echo")
    errors: list[BaseException] = []
    answers: list[str] = []

    def client(n: int) -> None:
        try:
            version = SC_1_3 if n % 2 else SC_2005_02
            bootstrap = NegotiatedBootstrap(tlsnego(service_certificate=SERVICE[0]))
            establish = n % 3 != 0
            with WsscClient(server.url, bootstrap, version=version, establish_security_context=establish) as wssc:
                for _ in range(2):
                    reply = wssc.call(etree.fromstring(echo_body(f"client {n}")), ECHO_ACTION)
                    answers.append("".join(reply.body.itertext()))
        except BaseException as error:
            errors.append(error)

    with LiveServer(app) as server:
        threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert not errors, errors
    assert sorted(answers) == sorted(f"client {n}" for n in range(8) for _ in range(2))
    assert service.negotiation is not None and service.negotiation.acceptor.pending == 0
