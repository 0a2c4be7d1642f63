"""Light requests (``SecureConversationService.is_light``, ``receive_light``): the compiled core alone decides
them, bounded work an ASGI adapter does on its event loop; what the core declines goes on to the Python path
as the rest of the same attempt, its replay check included."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from lxml import etree

from wssc.adapters.throttle import LOOP_REQUEST_BYTES
from wssc.conversation.bootstrap import ClientBootstrap, ServiceCredentials
from wssc.conversation.client import ClientSession
from wssc.conversation.service import ApplicationRequest, FaultReply, SecureConversationService, TokenReply
from wssc.conversation.store import InMemoryContextStore
from wssc.security import compiled, compiled_unprotect
from wssc.security.replay import InMemoryReplayCache
from wssc.tokens.x509 import self_signed

pytest.importorskip("wssc._core")
SERVICE = self_signed("light service")
PAYLOAD = b'<e:echo xmlns:e="urn:e">light</e:echo>'


def _established(**kwargs: Any) -> tuple[SecureConversationService, ClientSession]:
    if compiled.core() is None:
        pytest.skip("the compiled core is not in use here (WSSC_PURE_PYTHON): no request is light")
    service = SecureConversationService(ServiceCredentials(*SERVICE), **kwargs)
    session = ClientSession(ClientBootstrap(SERVICE[0]), "http://svc/echo")
    event = service.receive(session.establish())
    assert isinstance(event, TokenReply), getattr(event, "error", event)
    session.receive(event.reply.data)
    return service, session


def test_a_light_request_is_decided_by_the_core_alone() -> None:
    service, session = _established()
    request = session.request(PAYLOAD, "urn:e:echo")
    assert service.is_light(request, LOOP_REQUEST_BYTES)
    event = service.receive_light(request)
    assert isinstance(event, ApplicationRequest), event
    assert etree.QName(event.message.payload()[0]).namespace == "urn:e"
    replayed = service.receive_light(request)  # the core's own replay check refuses it, on the spot
    assert isinstance(replayed, FaultReply) and "replay" in str(replayed.error)


def test_what_the_core_declines_after_its_replay_check_goes_on_to_the_python_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A message the core declines once its replay check admitted the signature value (here: every message,
    the core's answer dropped after its walk): the Python path then decides it as the same attempt, and
    accepts it rather than calling it a replay of itself.  Sent again, it is a replay."""
    service, session = _established()
    request = session.request(PAYLOAD, "urn:e:echo")
    real = compiled_unprotect.unprotect
    declined: list[bytes] = []

    def declining(*args: Any) -> None:
        assert real(*args) is not None  # verified, its value admitted to the replay cache
        declined.append(args[1])
        return None

    monkeypatch.setattr(compiled_unprotect, "unprotect", declining)
    rest = service.receive_light(request)
    assert declined == [request]
    assert callable(rest) and not isinstance(rest, (ApplicationRequest, FaultReply, TokenReply))
    event = rest()
    assert isinstance(event, ApplicationRequest), getattr(event, "error", event)
    assert declined == [request]  # the core was not asked twice
    again = service.receive(request)
    assert isinstance(again, FaultReply) and "replay" in str(again.error)


def test_what_is_not_light() -> None:
    service, session = _established()
    fresh = ClientSession(ClientBootstrap(SERVICE[0]), "http://svc/echo")
    assert not service.is_light(fresh.establish(), LOOP_REQUEST_BYTES)  # RSA key transport
    request = session.request(PAYLOAD, "urn:e:echo")
    assert not service.is_light(request, len(request) - 1)
    with compiled.forced_python():
        assert not service.is_light(request, LOOP_REQUEST_BYTES)
    assert service.is_light(request, LOOP_REQUEST_BYTES)


class _FarmStore(InMemoryContextStore):
    """Stands for a store that waits on the network (Redis): any store that is not the in-memory one."""


class _FarmReplays:
    """Stands for a replay cache that waits on the network (Redis)."""

    def __init__(self) -> None:
        self.memory = InMemoryReplayCache()

    def add(self, key: bytes, expires: datetime, now: datetime) -> bool:
        return self.memory.add(key, expires, now)


@pytest.mark.parametrize("shared", ["store", "replays"])
def test_nothing_is_light_where_contexts_or_replays_live_outside_this_process(shared: str) -> None:
    """A request that would wait on Redis is no bounded work: never verified on an event loop."""
    kwargs: dict[str, Any] = {"replay_cache": _FarmReplays()} if shared == "replays" else {}
    service = SecureConversationService(
        ServiceCredentials(*SERVICE), _FarmStore() if shared == "store" else None, **kwargs
    )
    session = ClientSession(ClientBootstrap(SERVICE[0]), "http://svc/echo")
    event = service.receive(session.establish())
    assert isinstance(event, TokenReply), getattr(event, "error", event)
    session.receive(event.reply.data)
    request = session.request(PAYLOAD, "urn:e:echo")
    assert not service.is_light(request, LOOP_REQUEST_BYTES)
    assert isinstance(service.receive(request), ApplicationRequest)  # positive control: it is served, in a worker
