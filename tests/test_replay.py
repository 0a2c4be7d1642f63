"""Replay protection (issue 7, finding 5): the given cache is the one used.

Each attack family has its positive control beside it (the legitimate message is accepted once) and ends
with an unrelated live context still working."""

from __future__ import annotations

import datetime as dt

import pytest

from helpers import Context, new_context, protect_msg
from wssc import errors
from wssc.conversation.bootstrap import ClientBootstrap, ServiceCredentials
from wssc.conversation.client import ClientSession, Response
from wssc.conversation.service import ApplicationRequest, FaultReply, SecureConversationService, TokenReply
from wssc.conversation.store import InMemoryContextStore
from wssc.security.replay import InMemoryReplayCache
from wssc.tokens.x509 import self_signed

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
SERVICE = self_signed("replay service")
PAYLOAD = b'<e:echo xmlns:e="urn:e">once</e:echo>'


def _still_works(receiver_ctx: Context, **kwargs: object) -> None:
    """An unrelated live context is unaffected by the attack just made."""
    assert receiver_ctx.receiver(**kwargs).unprotect(protect_msg(receiver_ctx, now=NOW), now=NOW).body is not None


# -- the given cache is the one used ---------------------------------------------------------------------


def test_attack_replay_to_second_receiver_sharing_an_empty_cache() -> None:
    ctx = new_context()
    shared = InMemoryReplayCache()
    first, second = ctx.receiver(replay_cache=shared), ctx.receiver(replay_cache=shared)
    data = protect_msg(ctx, now=NOW)
    assert first.unprotect(data, now=NOW).body is not None  # positive control: accepted once
    with pytest.raises(errors.InvalidSecurity, match="replay"):
        second.unprotect(data, now=NOW)
    assert first.replay_cache is shared and second.replay_cache is shared
    assert len(shared) == 1
    _still_works(new_context(), replay_cache=shared)


def _established(service: SecureConversationService) -> ClientSession:
    session = ClientSession(ClientBootstrap(SERVICE[0]), "http://svc/echo")
    event = service.receive(session.establish())
    assert isinstance(event, TokenReply), getattr(event, "error", event)
    session.receive(event.reply.data)
    return session


def _answered(service: SecureConversationService, session: ClientSession, *, over_tls: bool = False) -> None:
    event = service.receive(session.request(PAYLOAD, "urn:e:echo"), over_tls=over_tls)
    assert isinstance(event, ApplicationRequest), getattr(event, "error", event)
    assert isinstance(session.receive(service.respond(event, event.message.payload())), Response)


def test_attack_replay_to_second_service_sharing_an_empty_cache() -> None:
    store, shared = InMemoryContextStore(), InMemoryReplayCache()
    a = SecureConversationService(ServiceCredentials(*SERVICE), store, replay_cache=shared)
    b = SecureConversationService(ServiceCredentials(*SERVICE), store, replay_cache=shared)
    session = _established(a)
    request = session.request(PAYLOAD, "urn:e:echo")
    assert isinstance(a.receive(request), ApplicationRequest)  # positive control
    replayed = b.receive(request)
    assert isinstance(replayed, FaultReply) and isinstance(replayed.error, errors.InvalidSecurity)
    assert "replay" in replayed.error.detail
    session._pending = None
    _answered(b, _established(b))


def test_attack_replay_over_https_after_http() -> None:
    service = SecureConversationService(ServiceCredentials(*SERVICE))
    session = _established(service)
    request = session.request(PAYLOAD, "urn:e:echo")
    assert isinstance(service.receive(request, over_tls=False), ApplicationRequest)  # positive control
    replayed = service.receive(request, over_tls=True)
    assert isinstance(replayed, FaultReply) and isinstance(replayed.error, errors.InvalidSecurity)
    assert "replay" in replayed.error.detail
    session._pending = None
    _answered(service, session, over_tls=True)
    _answered(service, _established(service))
