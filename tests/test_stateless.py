"""Stateless (cookie-mode) security contexts: the SCT carries its context sealed under the service's key, so
any node holding that key serves it and none stores it (SPEC-NOTES section 10)."""

from __future__ import annotations

import base64
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from lxml import etree

from wssc import namespaces as ns
from wssc.conversation.bootstrap import ClientBootstrap, ServiceCredentials
from wssc.conversation.client import Amended, ClientSession, Established, Renewed, Response, Validated
from wssc.conversation.client_settings import ClientSettings
from wssc.conversation.sealing import ContextSeal
from wssc.conversation.service import ApplicationRequest, FaultReply, SecureConversationService, TokenReply
from wssc.conversation.settings import ServiceSettings
from wssc.conversation.stateless import COOKIE_TAG, cookie_of
from wssc.conversation.store import InMemoryContextStore
from wssc.errors import BadContextToken, InvalidRequest, RenewNeeded, WsscError
from wssc.security.soap import SOAP12
from wssc.tokens.x509 import self_signed
from wssc.versions import SC_1_3, SC_2005_02

SERVICE = self_signed("stateless service")
AMENDER = self_signed("stateless amender")
SEAL_KEY = os.urandom(32)


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(timezone.utc)

    def __call__(self) -> datetime:
        return self.now


def _node(seal_key: bytes = SEAL_KEY, clock: Clock | None = None) -> SecureConversationService:
    """A node with its own (empty) store: only the sealing key is shared."""
    settings = ServiceSettings(stateless=ContextSeal(seal_key))
    return SecureConversationService(
        ServiceCredentials(*SERVICE), InMemoryContextStore(), settings, clock=clock or Clock()
    )


def _echo(text: str) -> bytes:
    return f'<e:echo xmlns:e="urn:e">{text}</e:echo>'.encode()


def _exchange(node: SecureConversationService, session: ClientSession, request: bytes) -> object:
    event = node.receive(request)
    if isinstance(event, ApplicationRequest):
        return session.receive(node.respond(event, event.message.payload()))
    assert isinstance(event, TokenReply), getattr(event, "error", event)
    return session.receive(event.reply.data)


def _refused(node: SecureConversationService, session: ClientSession, request: bytes, error: type[WsscError]) -> None:
    event = node.receive(request)
    assert isinstance(event, FaultReply) and isinstance(event.error, error), getattr(event, "error", event)
    with pytest.raises(error):
        session.receive(event.reply.data)


@pytest.mark.parametrize("version", [SC_1_3, SC_2005_02], ids=["1.3", "2005-02"])
def test_any_node_with_the_key_serves_a_stateless_context(version) -> None:  # type: ignore[no-untyped-def]
    a, b = _node(), _node()
    session = ClientSession(ClientBootstrap(SERVICE[0]), "http://svc/echo", ClientSettings(version=version))
    established = _exchange(a, session, session.establish())
    assert isinstance(established, Established)
    assert session.stateless and cookie_of(established.context.token) is not None
    assert len(a.store) == 0 and len(b.store) == 0  # type: ignore[arg-type]

    reply = _exchange(b, session, session.request(_echo("at b"), "urn:e:echo"))
    assert isinstance(reply, Response) and "".join(reply.message.body.itertext()) == "at b"

    before = session.context
    assert isinstance(_exchange(b, session, session.renew()), Renewed)
    assert session.context is not None and before is not None
    assert session.context.instance != before.instance
    assert cookie_of(session.context.token) is not None
    reply = _exchange(a, session, session.request(_echo("renewed"), "urn:e:echo"))
    assert isinstance(reply, Response)

    assert isinstance(_exchange(a, session, session.amend(*AMENDER)), Amended)
    event = b.receive(session.request(_echo("claims"), "urn:e:echo"))
    assert isinstance(event, ApplicationRequest)
    assert ("x509", "CN=stateless amender") in [(c.type, c.value) for c in event.claims]
    session.receive(b.respond(event, event.message.payload()))

    validated = _exchange(b, session, session.validate())
    assert validated == Validated(True, "context is live")
    # Cancel would be a promise a stateless service cannot keep: refused, the context still works.
    _refused(a, session, session.cancel(), InvalidRequest)
    assert isinstance(_exchange(a, session, session.request(_echo("still live"), "urn:e:echo")), Response)
    assert len(a.store) == 0 and len(b.store) == 0  # type: ignore[arg-type]


def _sct(request: bytes) -> etree._Element:
    root = etree.fromstring(request)
    found = root.find(f".//{{{SC_1_3.sc}}}SecurityContextToken")
    assert found is not None
    return found


def test_forged_foreign_and_swapped_cookies_are_bad_context_tokens() -> None:
    a = _node()
    session = ClientSession(ClientBootstrap(SERVICE[0]), "http://svc/echo")
    _exchange(a, session, session.establish())

    # A node sealing with another key cannot open the cookie.
    _refused(_node(os.urandom(32)), session, session.request(_echo("x"), "urn:e:x"), BadContextToken)

    request = session.request(_echo("x"), "urn:e:x")
    cookie = _sct(request).find(COOKIE_TAG)
    assert cookie is not None and cookie.text is not None
    tampered = bytearray(base64.b64decode(cookie.text))
    tampered[-1] ^= 1
    forged = request.replace(cookie.text.encode(), base64.b64encode(bytes(tampered)))
    _refused(a, session, forged, BadContextToken)

    # The cookie of one context under the SCT of another: bound to its Identifier, it does not open.
    other = ClientSession(ClientBootstrap(SERVICE[0]), "http://svc/echo")
    _exchange(a, other, other.establish())
    theirs = _sct(other.request(_echo("y"), "urn:e:y")).find(COOKIE_TAG)
    other._pending = None
    assert theirs is not None and theirs.text is not None
    _refused(
        a,
        session,
        session.request(_echo("x"), "urn:e:x").replace(cookie.text.encode(), theirs.text.encode()),
        BadContextToken,
    )
    assert isinstance(_exchange(a, session, session.request(_echo("ok"), "urn:e:echo")), Response)


def test_an_expired_stateless_context_needs_renewal_and_can_have_it() -> None:
    clock = Clock()
    a = _node(clock=clock)
    session = ClientSession(ClientBootstrap(SERVICE[0]), "http://svc/echo", clock=clock)
    _exchange(a, session, session.establish())
    assert session.context is not None
    clock.now = session.context.expires + timedelta(seconds=1)
    _refused(a, session, session.request(_echo("late"), "urn:e:x"), RenewNeeded)
    assert isinstance(_exchange(a, session, session.renew()), Renewed)
    assert isinstance(_exchange(a, session, session.request(_echo("renewed"), "urn:e:echo")), Response)
    # Long after, the cookie is simply unknown.
    clock.now += timedelta(days=2)
    _refused(a, session, session.request(_echo("forgotten"), "urn:e:x"), BadContextToken)


def test_the_client_echoes_a_cookie_it_cannot_read() -> None:
    """The SCT goes back byte for byte as issued, cookie included (what WCF clients do with WCF's cookies)."""
    a = _node()
    session = ClientSession(ClientBootstrap(SERVICE[0]), "http://svc/echo")
    event = a.receive(session.establish())
    assert isinstance(event, TokenReply)
    issued = etree.fromstring(event.reply.data)
    session.receive(event.reply.data)
    request = session.request(_echo("x"), "urn:e:x")
    assert session.context is not None and session.context.token is not None
    sent = _sct(request)
    assert sent.findtext(COOKIE_TAG) == cookie_of(session.context.token).text  # type: ignore[union-attr]
    del issued
    assert ns.DNSE in etree.tostring(sent).decode()


def test_two_wssc_serve_processes_without_shared_state(tmp_path: Path) -> None:
    """`wssc serve --stateless`: two processes share nothing but the certificate and WSSC_SEAL_KEY."""
    from http_support import serve_pair
    from wssc.adapters.http_client import WsscClient

    with serve_pair(tmp_path, SERVICE, SEAL_KEY, "--stateless") as (a, b):
        with WsscClient(b.url, ClientBootstrap(SERVICE[0]), issuer_url=a.url) as client:
            client.establish()
            assert client.session.stateless
            assert "at b" in "".join(client.call(_echo("at b"), "urn:e:echo").body.itertext())
            client.renew()
            assert "renewed" in "".join(client.call(_echo("renewed"), "urn:e:echo").body.itertext())
        # Closing did not send a Cancel the service would refuse; a fresh node still takes the context.
        request = client.session.request(_echo("after close"), "urn:e:echo")
        answer = httpx.post(a.url, content=request, headers={"Content-Type": SOAP12.content_type})
        assert answer.status_code == 200
