"""The context store (bounded LRU of contexts in use, expired-context retention, compare-and-set, atomic
remove), the service under a store that changes behind its back, and the client's mapping of fault envelopes
to typed errors."""

from __future__ import annotations

import contextlib
import os
import threading
from datetime import datetime, timedelta, timezone

import pytest
from conversation_support import VERSION_SOAP, echo_body, make_world

from wssc.conversation.bootstrap import ServiceCredentials
from wssc.conversation.context import KEY_ROLLOVER_WINDOW, Claim, SecurityContext
from wssc.conversation.service import ApplicationRequest, FaultReply
from wssc.conversation.store import (
    EXPIRED_RETENTION,
    MAX_CONTEXTS,
    InMemoryContextStore,
    StaleContext,
    StoreFull,
    amend,
)
from wssc.errors import (
    ALL_ERRORS,
    BadContextToken,
    InvalidRequest,
    RenewNeeded,
    RequestFailed,
    UnableToRenew,
    WsscError,
)
from wssc.security.addressing import envelope
from wssc.security.faults import fault_envelope
from wssc.security.keys import ContextProtection
from wssc.security.policy import ProtectionPolicy
from wssc.security.protect import protect
from wssc.security.soap import SOAP11, SOAP12, SOAPVersion
from wssc.tokens.x509 import self_signed
from wssc.versions import SC_1_3, SC_2005_02, SCVersion

T0 = datetime(2030, 1, 1, tzinfo=timezone.utc)
HOUR = timedelta(hours=1)

CREATOR = self_signed("context creator")


def context(now: datetime = T0, lifetime: timedelta = HOUR) -> SecurityContext:
    return SecurityContext.new(os.urandom(32), now, lifetime=lifetime)


def test_defaults_follow_wcf() -> None:
    assert MAX_CONTEXTS == 1000
    assert EXPIRED_RETENTION == KEY_ROLLOVER_WINDOW == timedelta(minutes=5)


def test_add_get_and_duplicate_identifier() -> None:
    store = InMemoryContextStore()
    c = context()
    store.add(c, T0)
    assert store.get(c.identifier, T0) is c
    assert store.get("urn:uuid:unknown", T0) is None
    with pytest.raises(KeyError):
        store.add(SecurityContext.new(os.urandom(32), T0, identifier=c.identifier), T0)
    assert store.get(c.identifier, T0) is c
    assert len(store) == 1


# -- capacity ------------------------------------------------------------------------------------------------


def test_capacity_refuses_newcomers_and_keeps_live_contexts() -> None:
    store = InMemoryContextStore(capacity=3)
    held = [context() for _ in range(3)]
    for x in held:
        store.add(x, T0)
        store.mark_used(x.identifier, T0)
    with pytest.raises(StoreFull):
        store.add(context(), T0)
    assert all(store.get(x.identifier, T0) is x for x in held)
    assert store.remove(held[0].identifier)
    newcomer = context()
    store.add(newcomer, T0)
    assert store.get(newcomer.identifier, T0) is newcomer


def test_capacity_evicts_the_least_recently_used_when_asked_to() -> None:
    store = InMemoryContextStore(capacity=3, evict_live_contexts_when_full=True)
    a, b, c, d, e = (context() for _ in range(5))
    for x in (a, b, c):
        store.add(x, T0)
        store.mark_used(x.identifier, T0)
    assert store.get(a.identifier, T0) is a  # a is now the most recently used; b the least
    store.add(d, T0)
    store.mark_used(d.identifier, T0)
    assert len(store) == 3
    assert store.get(b.identifier, T0) is None
    for x in (c, a, d):  # use order now c, a, d: c is the least recently used
        assert store.get(x.identifier, T0) is x
    store.add(e, T0)
    assert store.get(c.identifier, T0) is None
    assert len(store) == 3


def test_capacity_forgets_long_expired_contexts_before_evicting_live_ones() -> None:
    store = InMemoryContextStore(capacity=2)
    short = context(lifetime=timedelta(minutes=1))
    live = context()
    store.add(short, T0)
    store.add(live, T0)
    store.mark_used(live.identifier, T0)
    store.mark_used(short.identifier, T0)
    store.get(short.identifier, T0)  # short is the most recently used, live the least
    later = T0 + timedelta(minutes=1) + EXPIRED_RETENTION
    newcomer = context(later)
    store.add(newcomer, later)
    assert store.get(live.identifier, later) is live
    assert store.get(newcomer.identifier, later) is newcomer
    assert store.get(short.identifier, later) is None


def test_capacity_bound_holds_under_many_adds() -> None:
    store = InMemoryContextStore(capacity=50, evict_live_contexts_when_full=True)
    contexts = [context() for _ in range(500)]
    for c in contexts:
        store.add(c, T0)
        assert len(store) <= 50
    assert all(store.get(c.identifier, T0) is c for c in contexts[-50:])
    assert all(store.get(c.identifier, T0) is None for c in contexts[:-50])


# -- expiry and retention ------------------------------------------------------------------------------------


def test_expired_context_is_retained_for_the_retention_window_then_forgotten() -> None:
    store = InMemoryContextStore()
    c = context()
    store.add(c, T0)
    store.mark_used(c.identifier, T0)
    expired = c.expires + timedelta(seconds=1)
    assert c.is_expired(expired)
    assert store.get(c.identifier, expired) is c  # still known: its use gets RenewNeeded
    assert store.get(c.identifier, c.expires + EXPIRED_RETENTION - timedelta(microseconds=1)) is c
    assert store.get(c.identifier, c.expires + EXPIRED_RETENTION) is None
    assert len(store) == 0  # forgotten, not merely hidden
    assert store.get(c.identifier, T0) is None


def test_custom_retention() -> None:
    store = InMemoryContextStore(expired_retention=timedelta(0))
    c = context()
    store.add(c, T0)
    store.mark_used(c.identifier, T0)
    assert store.get(c.identifier, c.expires - timedelta(microseconds=1)) is c
    assert store.get(c.identifier, c.expires) is None


# -- compare-and-set -----------------------------------------------------------------------------------------


def test_replace_succeeds_on_the_current_version() -> None:
    store = InMemoryContextStore()
    c = context()
    store.add(c, T0)
    renewed = c.renewed(os.urandom(32), T0 + HOUR / 2)
    store.replace(c, renewed, T0)
    assert store.get(c.identifier, T0) is renewed


@pytest.mark.parametrize(
    ("winner", "loser"),
    [
        ("renew", "renew"),
        ("renew", "amend"),
        ("amend", "renew"),
        ("amend", "amend"),
    ],
)
def test_replace_raises_stale_context_on_a_concurrent_change(winner: str, loser: str) -> None:
    store = InMemoryContextStore()
    c = context()
    store.add(c, T0)

    def change(kind: str, tag: str) -> SecurityContext:
        if kind == "renew":
            return c.renewed(os.urandom(32), T0)
        return c.amended((Claim("x509", "CN=" + tag),))

    first, second = change(winner, "first"), change(loser, "second")
    store.replace(c, first, T0)
    with pytest.raises(StaleContext):
        store.replace(c, second, T0)
    assert store.get(c.identifier, T0) is first


def test_replace_after_remove_is_stale_and_does_not_resurrect() -> None:
    store = InMemoryContextStore()
    c = context()
    store.add(c, T0)
    assert store.remove(c.identifier)
    with pytest.raises(StaleContext):
        store.replace(c, c.renewed(os.urandom(32), T0), T0)
    assert store.get(c.identifier, T0) is None
    assert len(store) == 0


def test_replace_refuses_another_identifier() -> None:
    store = InMemoryContextStore()
    c, other = context(), context()
    store.add(c, T0)
    with pytest.raises(ValueError, match="Identifier"):
        store.replace(c, other, T0)
    assert store.get(c.identifier, T0) is c
    assert store.get(other.identifier, T0) is None


def test_replace_is_atomic_under_threads() -> None:
    store = InMemoryContextStore()
    c = context()
    store.add(c, T0)
    workers = 16
    barrier = threading.Barrier(workers)
    won: list[SecurityContext] = []
    lost: list[int] = []
    lock = threading.Lock()

    def renew() -> None:
        seen = store.get(c.identifier, T0)
        assert seen is not None
        mine = seen.renewed(os.urandom(32), T0)
        barrier.wait()
        try:
            store.replace(seen, mine, T0)
        except StaleContext:
            with lock:
                lost.append(1)
        else:
            with lock:
                won.append(mine)

    threads = [threading.Thread(target=renew) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1 and len(lost) == workers - 1
    assert store.get(c.identifier, T0) is won[0]


def test_remove_is_atomic() -> None:
    store = InMemoryContextStore()
    c = context()
    store.add(c, T0)
    workers = 16
    barrier = threading.Barrier(workers)
    results: list[bool] = []
    lock = threading.Lock()

    def cancel() -> None:
        barrier.wait()
        removed = store.remove(c.identifier)
        with lock:
            results.append(removed)

    threads = [threading.Thread(target=cancel) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 1 and results.count(False) == workers - 1
    assert store.get(c.identifier, T0) is None


def test_remove_with_expected_instance() -> None:
    store = InMemoryContextStore()
    c = context()
    store.add(c, T0)
    renewed = c.renewed(os.urandom(32), T0)
    store.replace(c, renewed, T0)
    assert not store.remove(c.identifier, expected_instance="urn:uuid:some-other-instance")
    assert store.get(c.identifier, T0) is renewed
    assert store.remove(c.identifier, expected_instance=renewed.instance)
    assert not store.remove(c.identifier)
    assert not store.remove("urn:uuid:never-there")


def test_amend_helper_merges_and_retries_once() -> None:
    store = InMemoryContextStore()
    c = context()
    store.add(c, T0)
    claim = Claim("x509", "CN=a")
    assert amend(store, c.identifier, (claim,), T0).claims == (claim,)
    assert amend(store, c.identifier, (claim,), T0).claims == (claim,)  # no duplicates
    with pytest.raises(KeyError):
        amend(store, "urn:uuid:unknown", (claim,), T0)

    class Racing(InMemoryContextStore):
        """A store where another writer wins the first ``races`` compare-and-sets."""

        def __init__(self, races: int) -> None:
            super().__init__()
            self.races = races

        def replace(self, expected: SecurityContext, new: SecurityContext, now: datetime) -> None:
            if self.races:
                self.races -= 1
                other = expected.amended((Claim("x509", f"CN=other-{self.races}"),))
                super().replace(expected, other, now)
            super().replace(expected, new, now)

    once = Racing(races=1)
    once.add(c, T0)
    merged = amend(once, c.identifier, (claim,), T0)
    assert claim in merged.claims and Claim("x509", "CN=other-0") in merged.claims
    assert once.get(c.identifier, T0) == merged

    twice = Racing(races=2)
    twice.add(c, T0)
    with pytest.raises(StaleContext):
        amend(twice, c.identifier, (claim,), T0)


# -- the service over the store ------------------------------------------------------------------------------


@pytest.mark.parametrize(("version", "soap"), VERSION_SOAP)
def test_a_full_service_refuses_new_contexts_and_harms_none(
    credentials: ServiceCredentials, version: SCVersion, soap: SOAPVersion
) -> None:
    """Anonymous clients flooding the service with contexts cannot push anyone else's context out: when
    every place holds a context in use, a new one is refused."""
    world = make_world(version, soap, credentials, store=InMemoryContextStore(capacity=2))
    first, second = world.establish(), world.establish()
    world.call(first)
    world.call(second)
    flood = world.session()
    world.expect_fault(flood.establish(), RequestFailed, flood)
    assert flood.context is None
    world.call(first)
    world.call(second)
    # Propagating a context is refused the same way.
    creator = world.session()
    world.expect_fault(creator.propagate(*CREATOR), RequestFailed, creator)
    second.receive(world.service.receive(second.cancel()).reply.data)  # type: ignore[union-attr]
    third = world.establish()
    world.call(third)
    world.call(first)


@pytest.mark.parametrize(("version", "soap"), VERSION_SOAP)
def test_service_store_capacity_evicts_the_least_recently_used_context_when_asked_to(
    credentials: ServiceCredentials, version: SCVersion, soap: SOAPVersion
) -> None:
    store = InMemoryContextStore(capacity=2, evict_live_contexts_when_full=True)
    world = make_world(version, soap, credentials, store=store)
    first, second = world.establish(), world.establish()
    world.call(second)
    world.call(first, "first is now the most recently used")
    third = world.establish()
    assert len(world.service.store) == 2  # type: ignore[arg-type]
    world.expect_fault(second.request(echo_body("evicted"), "urn:e:x"), BadContextToken, second)
    world.call(first)
    world.call(third)


class ChangingStore(InMemoryContextStore):
    """Another node of a farm changes the context between the service's read and its write."""

    def __init__(self) -> None:
        super().__init__()
        self.interfere = False
        self.changes = 0

    def replace(self, expected: SecurityContext, new: SecurityContext, now: datetime) -> None:
        if self.interfere:
            self.interfere = False
            self.changes += 1
            super().replace(expected, expected.amended((Claim("x509", f"CN=elsewhere-{self.changes}"),)), now)
        super().replace(expected, new, now)


@pytest.mark.parametrize(("version", "soap"), VERSION_SOAP)
def test_service_reports_a_lost_race(
    credentials: ServiceCredentials,
    version: SCVersion,
    soap: SOAPVersion,
    amender: tuple[object, object],
) -> None:
    store = ChangingStore()
    world = make_world(version, soap, credentials, store=store)
    session = world.establish()
    store.interfere = True
    world.expect_fault(session.renew(), UnableToRenew, session)
    store.interfere = True
    world.expect_fault(session.amend(*amender), InvalidRequest, session)  # type: ignore[arg-type]
    world.call(session, "the context is intact")
    assert world.stored(session).claims[-2:] == (  # type: ignore[union-attr]
        Claim("x509", "CN=elsewhere-1"),
        Claim("x509", "CN=elsewhere-2"),
    )


def test_service_is_usable_from_many_threads(credentials: ServiceCredentials) -> None:
    world = make_world(SC_1_3, SOAP12, credentials)
    sessions = [world.establish() for _ in range(8)]
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            for i in range(15):
                world.call(sessions[index], f"{index}-{i}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(sessions))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


class RendezvousStore(InMemoryContextStore):
    """Makes two request threads meet inside the service (at every store read), so that both have
    entered ``receive`` before either reaches ``_dispatch``: the interleaving a threaded WSGI server
    produces by chance, made certain."""

    def __init__(self) -> None:
        super().__init__()
        self.barrier: threading.Barrier | None = None

    def get(self, identifier: str, now: datetime) -> SecurityContext | None:
        barrier = self.barrier
        if barrier is not None and threading.current_thread() is not threading.main_thread():
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait(timeout=5)
        return super().get(identifier, now)


def test_transport_action_is_per_request_under_concurrency(credentials: ServiceCredentials) -> None:
    """Found by this test: ``receive(transport_action=...)`` once kept the action in instance state, so two
    concurrent requests (WsscApp.wsgi under a threaded server) saw each other's SOAPAction."""
    store = RendezvousStore()
    world = make_world(SC_1_3, SOAP12, credentials, store=store)
    requests = {}
    for action in ("urn:example:a", "urn:example:b"):
        session = world.establish()
        assert session.context is not None
        token = ContextProtection(session.context.sct(), session.context.key, "local")
        # No WS-Addressing: the action travels only in the transport (SOAPAction / media type).
        plain = envelope(echo_body(action), None, SOAP12)
        requests[action] = protect(plain, token, ProtectionPolicy(), version=SC_1_3, now=world.clock()).data

    seen: dict[str, str | None] = {}

    def handle(action: str) -> None:
        event = world.service.receive(requests[action], transport_action=action)
        assert isinstance(event, ApplicationRequest), getattr(event, "error", event)
        seen[action] = event.action

    store.barrier = threading.Barrier(2)
    threads = [threading.Thread(target=handle, args=(a,)) for a in requests]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {a: a for a in requests}


# -- the client's typed errors -------------------------------------------------------------------------------


@pytest.mark.parametrize("soap", [SOAP12, SOAP11], ids=["soap12", "soap11"])
@pytest.mark.parametrize("version", [SC_1_3, SC_2005_02], ids=["sc13", "sc200502"])
@pytest.mark.parametrize("error", ALL_ERRORS, ids=[e.__name__ for e in ALL_ERRORS])
def test_client_turns_each_fault_into_its_typed_error(
    credentials: ServiceCredentials, version: SCVersion, soap: SOAPVersion, error: type[WsscError]
) -> None:
    world = make_world(version, soap, credentials)
    session = world.establish()
    fault = fault_envelope(error("local detail that never leaves"), soap, version)
    assert b"local detail" not in fault

    # each kind of pending exchange: application call, context-bound token request, bootstrap request
    for make_request, owner in (
        (lambda: session.request(echo_body("x"), "urn:e:x"), session),
        (session.renew, session),
        (lambda: session.validate(under_bootstrap=True), session),
    ):
        make_request()
        with pytest.raises(error) as raised:
            owner.receive(fault)
        assert type(raised.value) is error
        assert str(raised.value) == error.reason
    fresh = world.session()
    fresh.establish()
    with pytest.raises(error):
        fresh.receive(fault)
    assert fresh.context is None
    # The exchange is over: the session takes the next request and still works.
    world.call(session, "after the fault")


@pytest.mark.parametrize("soap", [SOAP12, SOAP11], ids=["soap12", "soap11"])
def test_client_maps_an_unknown_fault_code_to_request_failed(
    credentials: ServiceCredentials, soap: SOAPVersion
) -> None:
    world = make_world(SC_1_3, soap, credentials)
    session = world.establish()
    if soap is SOAP11:
        fault = (
            b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:x="urn:x"><s:Body><s:Fault>'
            b"<faultcode>x:Boom</faultcode><faultstring>boom</faultstring></s:Fault></s:Body></s:Envelope>"
        )
    else:
        fault = (
            b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><s:Fault><s:Code>'
            b'<s:Value>s:Receiver</s:Value></s:Code><s:Reason><s:Text xml:lang="en">boom</s:Text></s:Reason>'
            b"</s:Fault></s:Body></s:Envelope>"
        )
    session.request(echo_body("x"), "urn:e:x")
    with pytest.raises(RequestFailed):
        session.receive(fault)
    world.call(session)


@pytest.mark.parametrize(("version", "soap"), VERSION_SOAP)
def test_client_receives_real_service_faults_as_typed_errors(
    credentials: ServiceCredentials, version: SCVersion, soap: SOAPVersion
) -> None:
    """End to end: the fault the service produces is the error the client raises."""
    world = make_world(version, soap, credentials)
    session = world.establish()
    world.call(session, "in use (an unused one is dropped after the inactivity timeout)")
    assert session.context is not None
    world.clock.now = session.context.expires + timedelta(seconds=30)
    event = world.service.receive(session.request(echo_body("late"), "urn:e:x"))
    assert isinstance(event, FaultReply)
    with pytest.raises(RenewNeeded):
        session.receive(event.reply.data)
    event = world.service.receive(session.renew())
    session.receive(event.reply.data)  # type: ignore[union-attr]
    ok = world.service.receive(session.request(echo_body("renewed"), "urn:e:x"))
    assert isinstance(ok, ApplicationRequest)
