"""The security token service on its own (WS-Trust 1.3 section 3; WS-SC 1.3 sections 3-6).

A :class:`TokenService` is driven here directly, with a store of its own and no
:class:`SecureConversationService` in front: each request is verified by a plain :class:`Receiver` (what the
service's gate does before it delegates), then handed to Issue, Renew or Cancel.  What the token service
owns is checked here: the contexts it puts in and takes out of *its* store, the key hook, the caller's
claims kept as given, and the compare-and-set on a context that changed meanwhile.  The lifecycle through
the gate is tested in ``test_conversation_lifecycle.py``.
"""

from __future__ import annotations

import pytest
from conversation_support import ADDRESS, ECHO_ACTION, Clock, echo_body

from wssc.conversation.bootstrap import ClientBootstrap, ServiceCredentials
from wssc.conversation.client import ClientSession, Response
from wssc.conversation.context import Claim, SecurityContext
from wssc.conversation.events import Incoming, TokenReply
from wssc.conversation.resolver import StoreKeyResolver
from wssc.conversation.service import ApplicationRequest, SecureConversationService
from wssc.conversation.settings import ServiceSettings
from wssc.conversation.store import ContextStore, InMemoryContextStore
from wssc.conversation.token_service import TokenService
from wssc.errors import BadContextToken
from wssc.security.addressing import action_of
from wssc.security.result import VerifiedMessage
from wssc.security.unprotect import Receiver
from wssc.trust.elements import RequestType
from wssc.trust.rst import RequestSecurityToken

ALICE = (Claim("username", "alice"),)


class Desk:
    """A token service with its own store, clock and key log, and the verifier in front of it."""

    def __init__(self, credentials: ServiceCredentials, store: ContextStore | None = None) -> None:
        self.clock = Clock()
        self.store = store if store is not None else InMemoryContextStore()
        self.keys: list[SecurityContext] = []
        self.tokens = TokenService(
            credentials, self.store, ServiceSettings(), clock=self.clock, on_new_key=self.keys.append
        )
        self.credentials = credentials

    def client(self) -> ClientSession:
        return ClientSession(ClientBootstrap(self.credentials.certificate), ADDRESS, clock=self.clock)

    def verify(
        self, data: bytes, *, bootstrap: bool = False, renewing: bool = False
    ) -> tuple[VerifiedMessage, RequestSecurityToken]:
        """What the gate does before delegating: verify the message against the published requirements (of a
        bootstrap message, or of one under a context) and read its RST."""
        resolver = StoreKeyResolver(self.store, self.credentials.resolver(), self.clock, allow_expired=renewing)
        requirements = self.tokens.settings.request_requirements(bootstrap=bootstrap)
        message = Receiver(resolver, requirements).unprotect(data, now=self.clock())
        (payload,) = message.payload()
        return message, RequestSecurityToken.from_element(payload, action=action_of(message.header))

    def issue(self, client: ClientSession) -> SecurityContext:
        message, rst = self.verify(client.establish(), bootstrap=True)
        event = self.tokens.issue(message, rst, ALICE, Incoming())
        client.receive(event.reply.data)
        assert event.context is not None
        return event.context


@pytest.fixture
def desk(credentials: ServiceCredentials) -> Desk:
    return Desk(credentials)


def test_issue_puts_the_context_in_its_store_with_the_callers_claims(desk: Desk) -> None:
    client = desk.client()
    issued = desk.issue(client)
    assert client.context is not None and client.context.identifier == issued.identifier
    assert client.context.key == issued.key  # the client computed the key the service keeps
    stored = desk.store.get(issued.identifier, desk.clock())
    assert stored == issued
    assert stored.claims == ALICE  # authentication is the gate's business: the claims are kept as given
    assert desk.keys == [issued]  # the key log saw the new key
    assert stored.expires - stored.created == ServiceSettings().context_lifetime


def test_renew_replaces_the_context_and_cancel_removes_it(desk: Desk) -> None:
    client = desk.client()
    issued = desk.issue(client)

    message, rst = desk.verify(client.renew(), renewing=True)
    renewed = desk.tokens.renew(message, rst, issued, Incoming())
    assert isinstance(renewed, TokenReply) and renewed.operation is RequestType.RENEW
    assert renewed.context is not None
    client.receive(renewed.reply.data)
    assert client.context is not None and client.context.instance == renewed.context.instance != issued.instance
    assert desk.store.get(issued.identifier, desk.clock()) == renewed.context
    assert desk.keys == [issued, renewed.context]

    message, rst = desk.verify(client.cancel())
    cancelled = desk.tokens.cancel(message, rst, renewed.context, Incoming())
    client.receive(cancelled.reply.data)
    assert client.context is None
    assert desk.store.get(issued.identifier, desk.clock()) is None
    assert len(desk.keys) == 2  # cancelling creates no key


def test_cancel_of_a_context_renewed_meanwhile_is_refused(desk: Desk) -> None:
    """Cancel removes only the instance the request proved (compare-and-set): a renewal that landed since
    keeps its new context.  The request here is signed with the old instance, still inside its rollover."""
    client = desk.client()
    issued = desk.issue(client)
    old_key_holder = desk.client()
    old_key_holder.context = client.context
    cancel = old_key_holder.cancel()

    message, rst = desk.verify(client.renew(), renewing=True)
    renewed = desk.tokens.renew(message, rst, issued, Incoming())

    message, rst = desk.verify(cancel)
    with pytest.raises(BadContextToken, match="meanwhile"):
        desk.tokens.cancel(message, rst, issued, Incoming())
    assert desk.store.get(issued.identifier, desk.clock()) == renewed.context


def test_a_separate_token_service_sharing_the_store_serves_the_application(credentials: ServiceCredentials) -> None:
    """The README's separate STS: a token service issues into a store the application's service shares;
    the service then accepts messages under that context, never having seen the Issue."""
    shared = InMemoryContextStore()
    desk = Desk(credentials, shared)
    service = SecureConversationService(credentials, shared, clock=desk.clock)
    client = desk.client()
    desk.issue(client)

    event = service.receive(client.request(echo_body("hello"), ECHO_ACTION))
    assert isinstance(event, ApplicationRequest)
    assert event.context is not None and event.context.claims == ALICE
    response = client.receive(service.respond(event, event.message.payload()))
    assert isinstance(response, Response)
