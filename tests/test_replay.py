"""Replay protection (issue 7, finding 5): the given cache is the one used, a message is acceptable for a
bounded time whatever its Timestamp says, cache entries live no longer than that, and a full cache refuses
new messages as "too busy", never as replays and never by forgetting a live entry.

Each attack family has its positive control beside it (the legitimate message is accepted once) and ends
with an unrelated live context still working."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator

import pytest
import redis

from helpers import SIGN_ONLY, Context, new_context, one, parse, protect_msg, resign, tostring
from redis_support import redis_server
from wssc import errors
from wssc.adapters.redis_store import RedisReplayCache
from wssc.conversation.bootstrap import ClientBootstrap, ServiceCredentials
from wssc.conversation.client import ClientSession, Response
from wssc.conversation.service import ApplicationRequest, FaultReply, SecureConversationService, TokenReply
from wssc.conversation.store import InMemoryContextStore
from wssc.limits import MAX_CLOCK_SKEW, REPLAY_WINDOW
from wssc.security import compiled
from wssc.security.keys import StaticKeys
from wssc.security.policy import ProtectionPolicy, Requirements
from wssc.security.replay import InMemoryReplayCache, ReplayCacheFull, replay_retention
from wssc.security.timestamp import Timestamp
from wssc.security.unprotect import Receiver
from wssc.tokens.x509 import self_signed

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
#: how old a Created may be: WCF's ReplayWindow plus MaxClockSkew (10 minutes)
MAX_AGE = REPLAY_WINDOW + MAX_CLOCK_SKEW
TEN_YEARS = ProtectionPolicy(encrypt=False, timestamp_ttl=dt.timedelta(days=3650))
SERVICE = self_signed("replay service")
PAYLOAD = b'<e:echo xmlns:e="urn:e">once</e:echo>'


#: the in-memory cache's two stores: the core's (``wssc._core.ReplayCache``, where the core is installed) and
#: the Python queue (the reference, and the store without the core); each test below runs on both
CACHE_KINDS = ["core", "python"]


def _cache(kind: str, capacity: int) -> InMemoryReplayCache:
    if kind == "python":
        with compiled.forced_python():
            return InMemoryReplayCache(capacity)
    if compiled.core() is None:
        pytest.skip("the compiled core is not installed")
    return InMemoryReplayCache(capacity)


def _without_expires(ctx: Context, created: dt.datetime) -> bytes:
    """A message whose signed Timestamp holds only Created, as its sender (holding the key) would send it."""
    root = parse(protect_msg(ctx, SIGN_ONLY, now=created))
    expires = one(root, "//wsu:Timestamp/wsu:Expires")
    expires.getparent().remove(expires)
    return tostring(resign(root, ctx.key))


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


# -- a bounded message age -------------------------------------------------------------------------------


def test_attack_timestamp_without_expires_replayed_after_seven_days() -> None:
    ctx = new_context()
    receiver = ctx.receiver()
    data = _without_expires(ctx, NOW)
    assert receiver.unprotect(data, now=NOW).timestamp.expires is None  # positive control
    with pytest.raises(errors.MessageExpired):
        receiver.unprotect(data, now=NOW + dt.timedelta(days=7))
    _still_works(new_context())


@pytest.mark.parametrize("expires", [True, False], ids=["with-expires", "without-expires"])
def test_attack_timestamp_created_a_year_ago(expires: bool) -> None:
    ctx = new_context()
    created = NOW - dt.timedelta(days=365)
    old = protect_msg(ctx, TEN_YEARS, now=created) if expires else _without_expires(ctx, created)
    with pytest.raises(errors.MessageExpired):
        ctx.receiver().unprotect(old, now=NOW)
    fresh = protect_msg(ctx, TEN_YEARS, now=NOW) if expires else _without_expires(ctx, NOW)
    assert ctx.receiver().unprotect(fresh, now=NOW).body is not None  # positive control
    _still_works(new_context())


@pytest.mark.parametrize("skew_minutes", [1, 5, 6])
def test_max_age_is_replay_window_plus_skew(skew_minutes: int) -> None:
    ctx = new_context()
    skew = dt.timedelta(minutes=skew_minutes)
    oldest = NOW - (REPLAY_WINDOW + skew)
    assert ctx.receiver(Requirements(max_clock_skew=skew)).unprotect(_without_expires(ctx, oldest), now=NOW)
    too_old = _without_expires(ctx, oldest - dt.timedelta(seconds=1))
    with pytest.raises(errors.MessageExpired):
        ctx.receiver(Requirements(max_clock_skew=skew)).unprotect(too_old, now=NOW)


@pytest.mark.parametrize("created_offset", [-MAX_AGE, dt.timedelta(0), MAX_CLOCK_SKEW], ids=["oldest", "now", "future"])
@pytest.mark.parametrize("expires", [True, False], ids=["ten-year-expires", "without-expires"])
def test_no_moment_of_a_message_life_accepts_it_twice(created_offset: dt.timedelta, expires: bool) -> None:
    """Whenever a message first arrives, no later moment accepts it again: while the Timestamp checks would
    pass it the cache still holds it (retention = window + 2 skew from first sight, WCF's bound)."""
    ctx = new_context()
    created = NOW + created_offset
    data = protect_msg(ctx, TEN_YEARS, now=created) if expires else _without_expires(ctx, created)
    receiver = ctx.receiver()
    assert receiver.unprotect(data, now=NOW).body is not None  # positive control
    for seconds in range(0, int(3 * replay_retention(MAX_CLOCK_SKEW).total_seconds()), 20):
        with pytest.raises((errors.InvalidSecurity, errors.MessageExpired)):
            receiver.unprotect(data, now=NOW + dt.timedelta(seconds=seconds))


def test_timestamp_check_bounds_created_whatever_expires() -> None:
    skew = MAX_CLOCK_SKEW
    Timestamp(NOW - MAX_AGE, None).check(NOW, skew)
    Timestamp(NOW - MAX_AGE, NOW + dt.timedelta(days=3650)).check(NOW, skew)
    for stamp in (
        Timestamp(NOW - MAX_AGE - dt.timedelta(seconds=1), None),
        Timestamp(NOW - MAX_AGE - dt.timedelta(seconds=1), NOW + dt.timedelta(days=3650)),
    ):
        with pytest.raises(errors.MessageExpired, match="too long ago"):
            stamp.check(NOW, skew)
    one_minute = dt.timedelta(minutes=1)
    Timestamp(NOW - one_minute - skew, None).check(NOW, skew, max_age=one_minute)
    with pytest.raises(errors.MessageExpired):
        Timestamp(NOW - 2 * one_minute - skew, None).check(NOW, skew, max_age=one_minute)


# -- entries bounded in time and number -------------------------------------------------------------------


@pytest.mark.parametrize("kind", CACHE_KINDS)
def test_attack_ten_year_expires_fills_the_cache_and_locks_everyone_out(kind: str) -> None:
    attacker, victim = new_context(), new_context()
    cache = _cache(kind, 3)
    keys = StaticKeys({attacker.identifier: attacker.key, victim.identifier: victim.key})
    endpoint = Receiver(keys, replay_cache=cache)
    for _ in range(3):  # the attacker's own messages, each legitimately signed, each with a 10-year Expires
        assert endpoint.unprotect(protect_msg(attacker, TEN_YEARS, now=NOW), now=NOW).body is not None
    later = NOW + replay_retention(MAX_CLOCK_SKEW) + dt.timedelta(seconds=1)
    message = protect_msg(victim, now=later)
    assert endpoint.unprotect(message, now=later).body is not None
    with pytest.raises(errors.InvalidSecurity, match="replay"):  # the victim's message is still seen once
        endpoint.unprotect(message, now=later)
    assert len(cache) == 1


@pytest.mark.parametrize("kind", CACHE_KINDS)
def test_full_cache_refuses_as_busy_never_as_replay_nor_by_forgetting(kind: str) -> None:
    ctx = new_context()
    cache = _cache(kind, 2)
    receiver = ctx.receiver(replay_cache=cache)
    accepted = [protect_msg(ctx, now=NOW) for _ in range(2)]
    for data in accepted:
        assert receiver.unprotect(data, now=NOW).body is not None  # positive control
    with pytest.raises(ReplayCacheFull) as refused:
        receiver.unprotect(protect_msg(ctx, now=NOW), now=NOW)
    assert refused.value.prefixed_code == "wst:RequestFailed" and not refused.value.sender_fault
    for data in accepted:  # the live entries are all still there
        with pytest.raises(errors.InvalidSecurity, match="replay"):
            receiver.unprotect(data, now=NOW)
    later = NOW + replay_retention(MAX_CLOCK_SKEW) + dt.timedelta(seconds=1)
    assert receiver.unprotect(protect_msg(ctx, now=later), now=later).body is not None


@pytest.mark.parametrize("kind", CACHE_KINDS)
def test_service_at_replay_capacity_answers_request_failed(kind: str) -> None:
    service = SecureConversationService(ServiceCredentials(*SERVICE), replay_cache=_cache(kind, 2))
    session = _established(service)  # one entry
    _answered(service, session)  # two
    event = service.receive(session.request(PAYLOAD, "urn:e:echo"))
    assert isinstance(event, FaultReply) and isinstance(event.error, errors.RequestFailed)
    assert b"RequestFailed" in event.reply.data and b"replay" not in event.reply.data


@pytest.mark.parametrize("kind", CACHE_KINDS)
def test_in_memory_cache_forgets_from_the_head_and_never_early(kind: str) -> None:
    cache = _cache(kind, 10)
    long, short = NOW + dt.timedelta(minutes=20), NOW + dt.timedelta(minutes=5)
    assert cache.add(b"a", long, NOW)
    assert cache.add(b"b", short, NOW)  # kept as long as the entry before it: the queue stays sorted
    assert not cache.add(b"b", short, NOW + dt.timedelta(minutes=10))
    assert cache.add(b"c", NOW + dt.timedelta(minutes=30), NOW)
    assert cache.add(b"d", NOW + dt.timedelta(minutes=25), NOW + dt.timedelta(minutes=21))
    assert len(cache) == 2  # a and b forgotten on the way
    assert cache.add(b"a", long, NOW + dt.timedelta(minutes=21))
    with pytest.raises(ValueError):
        InMemoryReplayCache(capacity=0)


@pytest.mark.parametrize("kind", CACHE_KINDS)
def test_full_cache_warns_once_until_it_admits_again(kind: str, caplog: pytest.LogCaptureFixture) -> None:
    cache = _cache(kind, 1)
    assert cache.add(b"a", NOW + dt.timedelta(minutes=1), NOW)
    for key in (b"b", b"c"):
        with pytest.raises(ReplayCacheFull):
            cache.add(key, NOW + dt.timedelta(minutes=1), NOW)
    warned = "replay cache full (1 live entries): refusing new messages"
    assert [r.getMessage() for r in caplog.records].count(warned) == 1
    later = NOW + dt.timedelta(minutes=2)
    assert cache.add(b"b", later + dt.timedelta(minutes=1), later)  # "a" expired: room again
    with pytest.raises(ReplayCacheFull):
        cache.add(b"c", later + dt.timedelta(minutes=1), later)
    assert len([r for r in caplog.records if "replay cache full" in r.getMessage()]) == 2


@pytest.mark.parametrize("kind", CACHE_KINDS)
def test_the_check_of_one_message_admits_its_value_again(kind: str) -> None:
    """The Python path deciding a message the core declined checks the value the core admitted: the same
    check lets it through, another check (another message) does not."""
    cache = _cache(kind, 10)
    receiver = Receiver(StaticKeys({}), replay_cache=cache)
    check = receiver._seen_once(NOW)
    if kind == "core":
        assert type(check).__name__ == "ReplayCheck"  # run by the core itself, no call back into Python
    check(b"signature value")
    check(b"signature value")
    with pytest.raises(errors.InvalidSecurity, match="replay"):
        receiver._seen_once(NOW)(b"signature value")
    assert len(cache) == 1


# -- Redis: the same bound on entry life ------------------------------------------------------------------


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


def test_attack_ten_year_expires_outlives_its_use_in_redis(redis_url: str) -> None:
    client: redis.Redis = redis.Redis.from_url(redis_url)
    namespace = "replay-" + os.urandom(4).hex()
    ctx = new_context()
    now = dt.datetime.now(dt.timezone.utc)
    receiver = ctx.receiver(replay_cache=RedisReplayCache(client, namespace=namespace))
    data = protect_msg(ctx, TEN_YEARS, now=now)
    assert receiver.unprotect(data, now=now).body is not None  # positive control
    (key,) = client.keys("{" + namespace + "}:replay:*")
    assert 0 < client.pttl(key) <= replay_retention(MAX_CLOCK_SKEW) / dt.timedelta(milliseconds=1)
    with pytest.raises(errors.InvalidSecurity, match="replay"):
        receiver.unprotect(data, now=now)


def test_redis_out_of_memory_refuses_as_busy(redis_url: str) -> None:
    client: redis.Redis = redis.Redis.from_url(redis_url)
    ctx = new_context()
    receiver = ctx.receiver(replay_cache=RedisReplayCache(client, namespace="oom-" + os.urandom(4).hex()))
    client.config_set("maxmemory", "1")
    try:
        with pytest.raises(ReplayCacheFull):
            receiver.unprotect(protect_msg(ctx, now=NOW), now=NOW)
    finally:
        client.config_set("maxmemory", "0")
    assert receiver.unprotect(protect_msg(ctx, now=NOW), now=NOW).body is not None
