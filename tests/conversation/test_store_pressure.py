"""The context store under pressure (issue 7, finding 8): anonymous Issue floods, the pending pool (WCF
``MaxPendingSessions`` and ``InactivityTimeout``) and the cost of refusing at capacity, in memory and in Redis.

Before the pending pool, 1,000 anonymous Issue requests filled the store for the contexts' lifetime (15 h):
every newcomer was refused, and with ``evict_live_contexts_when_full`` the flood pushed contexts in use out
instead.  And a refusal at capacity scanned the whole store (12 ms at 100,000 contexts).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone

import pytest
import redis
from conversation_support import ECHO_ACTION, Clock, World, echo_body, make_world

from redis_support import redis_server
from wssc.adapters.redis_store import RedisContextStore
from wssc.conversation.bootstrap import ServiceCredentials
from wssc.conversation.client import ClientSession
from wssc.conversation.context import SecurityContext
from wssc.conversation.sealing import ContextSeal
from wssc.conversation.service import TokenReply
from wssc.conversation.store import ContextStore, InMemoryContextStore, StoreFull
from wssc.errors import BadContextToken, RequestFailed, WsscError
from wssc.limits import INACTIVITY_TIMEOUT, MAX_PENDING_CONTEXTS
from wssc.security.soap import SOAP12
from wssc.versions import SC_1_3

SEAL = ContextSeal(os.urandom(32))
T0 = datetime.now(timezone.utc).replace(microsecond=0)
StoreFactory = Callable[..., ContextStore]


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture(params=["memory", "redis"])
def make_store(request: pytest.FixtureRequest) -> Iterator[StoreFactory]:
    if request.param == "memory":
        yield InMemoryContextStore
        return
    client: redis.Redis = redis.Redis.from_url(request.getfixturevalue("redis_url"))
    client.flushdb()
    yield lambda **options: RedisContextStore(client, SEAL, **options)
    client.close()


@pytest.fixture
def world_over(credentials: ServiceCredentials) -> Callable[[ContextStore], World]:
    """A service (WS-SC 1.3, SOAP 1.2) over the given store."""
    return lambda store: make_world(SC_1_3, SOAP12, credentials, store=store, clock=Clock(T0))


def _context(now: datetime = T0, lifetime: timedelta = timedelta(hours=15)) -> SecurityContext:
    return SecurityContext.new(os.urandom(32), now, lifetime=lifetime)


def _refused(world: World, session: ClientSession, error: type[WsscError] = BadContextToken) -> None:
    world.expect_fault(session.request(echo_body("refused"), ECHO_ACTION), error, session)


def test_defaults_follow_wcf() -> None:
    """WCF ``LocalServiceSecuritySettings``: MaxPendingSessions 128, InactivityTimeout 2 minutes."""
    assert MAX_PENDING_CONTEXTS == 128
    assert timedelta(minutes=2) == INACTIVITY_TIMEOUT


# -- the flood, through a real service ------------------------------------------------------------------------


def test_attack_anonymous_issue_flood_locks_out_no_newcomer(
    make_store: StoreFactory, world_over: Callable[[ContextStore], World]
) -> None:
    """Anonymous Issue requests beyond the store's capacity: the flood displaces only its own never-used
    contexts; contexts in use keep working and a newcomer still gets (and uses) a context."""
    world = world_over(make_store(capacity=8))
    in_use = [world.establish() for _ in range(3)]
    for session in in_use:
        world.call(session)
    flood = []
    for _ in range(12):
        world.clock.advance(seconds=1)  # issue order (Redis orders pending contexts by issue time)
        flood.append(world.establish())
    assert len(world.service.store) == 8  # type: ignore[arg-type]
    newcomer = world.establish()
    world.call(newcomer, "a newcomer after the flood")
    for session in in_use:
        world.call(session, "in use before the flood, still live")
    # The oldest flood contexts made room: their first use is refused as for any forgotten context.
    _refused(world, flood[0])
    world.call(flood[-1], "the newest pending ones are still there")


def test_attack_issue_flood_evicts_no_context_in_use_even_with_eviction_on(
    world_over: Callable[[ContextStore], World],
) -> None:
    """``evict_live_contexts_when_full`` (WCF ``removeOldestTokensOnCacheFull``) let a flood push every
    context in use out; now the flood displaces only pending contexts."""
    world = world_over(InMemoryContextStore(capacity=6, evict_live_contexts_when_full=True))
    in_use = [world.establish() for _ in range(4)]
    for session in in_use:
        world.call(session)
    for _ in range(12):
        world.establish()
    for session in in_use:
        world.call(session, "not evicted by the flood")
    newcomer = world.establish()
    for session in [newcomer, *in_use[1:]]:
        world.call(session)  # in_use[0] is now the least recently used
    world.call(world.establish())  # the last pending place goes to a context in use
    # Positive control: with every place in use, eviction does what it is asked to.
    world.establish()
    _refused(world, in_use[0])
    for session in [newcomer, *in_use[1:]]:
        world.call(session)


def test_every_place_in_use_still_refuses_newcomers(
    make_store: StoreFactory, world_over: Callable[[ContextStore], World]
) -> None:
    """StoreFull keeps its sense: contexts in use are never evicted, so when they fill the store a new
    context is refused (``wst:RequestFailed``) and nobody loses theirs."""
    world = world_over(make_store(capacity=2))
    first, second = world.establish(), world.establish()
    world.call(first)
    world.call(second)
    late = world.session()
    world.expect_fault(late.establish(), RequestFailed, late)
    world.call(first)
    world.call(second)


# -- the inactivity timeout -----------------------------------------------------------------------------------


def test_attack_unused_contexts_are_dropped_after_the_inactivity_timeout(
    make_store: StoreFactory, world_over: Callable[[ContextStore], World]
) -> None:
    """A flooded context that is never used holds its place for 2 minutes (WCF InactivityTimeout), not for
    the context lifetime (15 hours)."""
    world = world_over(make_store())
    used = world.establish()
    world.call(used)
    unused = [world.establish(), world.establish()]
    world.clock.advance(seconds=119)
    world.call(unused[0], "used just in time")  # positive control: under the timeout, the context works
    world.clock.advance(seconds=1)
    _refused(world, unused[1])
    world.clock.advance(hours=1)
    world.call(used, "a context in use knows no inactivity timeout")
    world.call(unused[0], "nor one first used in time")


@pytest.mark.parametrize("operation", ["call", "renew", "validate"])
def test_any_message_under_the_context_key_puts_it_in_use(
    operation: str, world_over: Callable[[ContextStore], World]
) -> None:
    world = world_over(InMemoryContextStore())
    session, idle = world.establish(), world.establish()
    if operation == "call":
        world.call(session)
    else:
        request = session.renew() if operation == "renew" else session.validate(under_bootstrap=False)
        event = world.service.receive(request)
        assert isinstance(event, TokenReply), getattr(event, "error", event)
        session.receive(event.reply.data)
    world.clock.advance(minutes=30)
    world.call(session, "in use, kept beyond the inactivity timeout")
    _refused(world, idle)


def test_a_message_not_under_the_context_key_does_not_put_it_in_use(
    world_over: Callable[[ContextStore], World],
) -> None:
    """Validate under the bootstrap key names the context but proves nothing about its key."""
    world = world_over(InMemoryContextStore())
    session = world.establish()
    event = world.service.receive(session.validate(under_bootstrap=True))
    assert isinstance(event, TokenReply), getattr(event, "error", event)
    session.receive(event.reply.data)
    world.clock.advance(minutes=2)
    _refused(world, session)


# -- the store contract, in memory and in Redis ------------------------------------------------------------------


def test_pending_pool_is_bounded_and_its_oldest_goes_first(make_store: StoreFactory) -> None:
    store = make_store(capacity=100, max_pending=3)
    used = _context()
    store.add(used, T0)
    store.mark_used(used.identifier, T0)
    pending = [_context() for _ in range(5)]
    for index, context in enumerate(pending):
        store.add(context, T0 + timedelta(seconds=index))
    now = T0 + timedelta(seconds=5)
    assert [store.get(c.identifier, now) is not None for c in pending] == [False, False, True, True, True]
    assert store.get(used.identifier, now) is not None
    assert len(store) == 4  # type: ignore[arg-type]


def test_a_context_in_use_is_never_evicted_by_pending_ones(make_store: StoreFactory) -> None:
    store = make_store(capacity=2, max_pending=5)
    used = _context()
    store.add(used, T0)
    store.mark_used(used.identifier, T0)
    for index in range(10):
        newest = _context()
        store.add(newest, T0 + timedelta(seconds=index))
    assert store.get(used.identifier, T0 + timedelta(seconds=10)) is not None
    assert len(store) == 2  # type: ignore[arg-type]
    store.mark_used(newest.identifier, T0 + timedelta(seconds=10))
    with pytest.raises(StoreFull):
        store.add(_context(), T0 + timedelta(seconds=11))
    assert store.get(used.identifier, T0 + timedelta(seconds=11)) is not None
    assert store.get(newest.identifier, T0 + timedelta(seconds=11)) is not None


def test_pending_context_expires_after_the_inactivity_timeout(make_store: StoreFactory) -> None:
    store = make_store(inactivity_timeout=timedelta(seconds=30))
    pending, used = _context(), _context()
    store.add(pending, T0)
    store.add(used, T0)
    store.mark_used(used.identifier, T0 + timedelta(seconds=29))
    assert store.get(pending.identifier, T0 + timedelta(seconds=29)) is not None
    assert store.get(pending.identifier, T0 + timedelta(seconds=30)) is None
    assert store.get(used.identifier, T0 + timedelta(hours=1)) is not None
    store.mark_used(pending.identifier, T0 + timedelta(seconds=31))  # too late: it stays forgotten
    assert store.get(pending.identifier, T0 + timedelta(seconds=31)) is None
    store.add(_context(), T0 + timedelta(seconds=31))  # purges what is due
    assert len(store) == 2  # type: ignore[arg-type]


def test_attack_flood_from_many_threads_loses_no_context_in_use() -> None:
    """Flooding threads and threads of clients that issue and use contexts, on one store: every context
    put in use survives, and the pending pool never exceeds its bound."""
    store = InMemoryContextStore(capacity=400, max_pending=16)
    kept: list[SecurityContext] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def flood() -> None:
        for _ in range(1500):
            store.add(_context(), T0)
            assert len(store._pending) <= 16

    def client() -> None:
        for _ in range(60):
            mine = _context()
            store.add(mine, T0)
            store.mark_used(mine.identifier, T0)
            with lock:
                kept.append(mine)
            assert store.get(mine.identifier, T0) is mine

    def run(work: Callable[[], None]) -> None:
        try:
            work()
        except BaseException as error:  # reported below, with the thread's assertion
            errors.append(error)

    threads = [threading.Thread(target=run, args=(w,)) for w in [flood] * 4 + [client] * 4]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(kept) == 240
    assert all(store.get(c.identifier, T0) is c for c in kept)
    assert len(store) <= 240 + 16


def test_redis_forgets_a_pending_record_by_itself(redis_url: str) -> None:
    """The record of a never-used context expires in Redis after the inactivity timeout, even if no node
    ever adds another context to purge it."""
    client: redis.Redis = redis.Redis.from_url(redis_url)
    client.flushdb()
    store = RedisContextStore(client, SEAL, inactivity_timeout=timedelta(milliseconds=300))
    now = datetime.now(timezone.utc)
    pending, used = _context(now), _context(now)
    for context in (pending, used):
        store.add(context, now)
    store.mark_used(used.identifier, now)
    time.sleep(0.6)
    assert client.exists("{wssc}:ctx:" + store._member(pending.identifier)) == 0
    assert client.exists("{wssc}:ctx:" + store._member(used.identifier)) == 1
    assert store.get(used.identifier, datetime.now(timezone.utc)) is not None
    client.close()


def test_redis_marks_a_context_used_with_one_round_trip_only(
    redis_url: str, world_over: Callable[[ContextStore], World]
) -> None:
    """Every accepted message marks its context used; in Redis that costs a script call only while the
    context is pending (its record, read anyway, says so), not on every message."""
    client: redis.Redis = redis.Redis.from_url(redis_url)
    client.flushdb()
    store = RedisContextStore(client, SEAL)
    calls: list[object] = []
    script = store._mark_used

    def counted(**arguments: object) -> object:
        calls.append(arguments)
        return script(**arguments)  # type: ignore[arg-type]

    store._mark_used = counted  # type: ignore[assignment]
    world = world_over(store)
    session = world.establish()
    for text in ("first", "second", "third"):
        world.call(session, text)
    assert len(calls) == 1
    world.clock.advance(hours=1)
    world.call(session, "in use, long after the inactivity timeout")
    client.close()


# -- cost ---------------------------------------------------------------------------------------------------------


def _counted(name: str) -> Callable[[datetime, object], bool]:
    def compare(self: datetime, other: object) -> bool:
        _CountingNow.comparisons += 1
        return getattr(datetime, name)(self, other)  # type: ignore[no-any-return]

    return compare


class _CountingNow(datetime):
    """A moment that counts how often it is compared: a scan of the store compares it with every context."""

    comparisons = 0
    __ge__, __le__, __gt__, __lt__ = (_counted(n) for n in ("__ge__", "__le__", "__gt__", "__lt__"))


@pytest.mark.parametrize("evict", [False, True], ids=["refuse", "evict"])
def test_attack_refusal_at_capacity_scans_no_context(evict: bool) -> None:
    """Refusing (or, with eviction on, admitting) a context at capacity compares the clock with a handful of
    contexts, not with all of them (the old purge did: 12 ms per refusal at 100,000 contexts)."""
    size = 5000
    store = InMemoryContextStore(capacity=size, evict_live_contexts_when_full=evict)
    for _ in range(size):
        context = _context()
        store.add(context, T0)
        store.mark_used(context.identifier, T0)
    now = _CountingNow.fromtimestamp((T0 + timedelta(minutes=1)).timestamp(), timezone.utc)
    _CountingNow.comparisons = 0
    for _ in range(10):
        if evict:
            store.add(_context(), now)
        else:
            with pytest.raises(StoreFull):
                store.add(_context(), now)
    assert _CountingNow.comparisons <= 10 * 4
    assert len(store) == size
