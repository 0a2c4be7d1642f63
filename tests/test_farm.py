"""A service that outgrows one machine: sealed contexts, the Redis context store and replay cache, and two
service nodes sharing them (against a real redis-server)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import redis

from redis_support import redis_server
from wssc.adapters.redis_store import RedisContextStore, RedisReplayCache
from wssc.conversation.bootstrap import ClientBootstrap, ServiceCredentials
from wssc.conversation.client import ClientSession, Renewed, Response
from wssc.conversation.client_settings import ClientSettings
from wssc.conversation.context import Claim, SecurityContext
from wssc.conversation.sealing import ContextSeal
from wssc.conversation.service import ApplicationRequest, FaultReply, SecureConversationService, TokenReply
from wssc.conversation.store import ContextStore, InMemoryContextStore, StaleContext, StoreFull
from wssc.errors import BadContextToken, InvalidSecurity
from wssc.tokens.x509 import self_signed
from wssc.versions import SC_2005_02

SEAL_KEY = os.urandom(32)
SERVICE = self_signed("farm service")
AMENDER = self_signed("farm amender")


def echo_body(text: str) -> bytes:
    return f'<e:echo xmlns:e="urn:e"><e:text>{text}</e:text></e:echo>'.encode()


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _same(a: SecurityContext | None, b: SecurityContext) -> bool:
    """Equal contexts (the SCT compares by identity, so its fields are compared instead)."""
    if a is None:
        return False

    def token(c: SecurityContext) -> object:
        t = c.token
        return None if t is None else (t.identifier, t.instance, t.wsu_id, t.version)

    return replace(a, token=None) == replace(b, token=None) and token(a) == token(b)


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client: redis.Redis = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.close()


# -- sealing -----------------------------------------------------------------------------------------------


def _context(lifetime: timedelta = timedelta(hours=1), **fields: object) -> SecurityContext:
    context = SecurityContext.new(os.urandom(32), _now(), lifetime=lifetime, version=SC_2005_02)
    return replace(context, **fields)  # type: ignore[arg-type]


def test_a_sealed_context_opens_only_for_its_identifier_and_purpose() -> None:
    seal = ContextSeal(SEAL_KEY)
    context = _context(claims=(Claim("name", "alice"),)).renewed(os.urandom(32), _now())
    sealed = seal.seal(context, "store")
    opened = seal.open(sealed, context.identifier, "store")
    assert _same(opened, context)  # key, instance, previous instance, claims, times, version, token
    assert context.key not in sealed and b"alice" not in sealed
    with pytest.raises(BadContextToken):
        seal.open(sealed, "urn:uuid:another", "store")
    with pytest.raises(BadContextToken):
        seal.open(sealed, context.identifier, "cookie")
    for position in (0, 3, 20, len(sealed) - 1):
        tampered = bytearray(sealed)
        tampered[position] ^= 1
        with pytest.raises(BadContextToken):
            seal.open(bytes(tampered), context.identifier, "store")
    with pytest.raises(BadContextToken):
        seal.open(sealed[:20], context.identifier, "store")


def test_sealing_keys_rotate_without_dropping_contexts() -> None:
    old, new = os.urandom(32), os.urandom(32)
    context = _context()
    sealed_before = ContextSeal(old).seal(context, "store")
    rotated = ContextSeal(new, previous_keys=[old])
    assert _same(rotated.open(sealed_before, context.identifier, "store"), context)
    assert _same(ContextSeal(new).open(rotated.seal(context, "store"), context.identifier, "store"), context)
    with pytest.raises(BadContextToken):
        ContextSeal(new).open(sealed_before, context.identifier, "store")
    with pytest.raises(ValueError):
        ContextSeal(b"short")
    assert "key" not in repr(rotated).lower() or "keys=2" in repr(rotated)


# -- the store contract, in memory and in Redis ------------------------------------------------------------------


StoreFactory = Callable[..., ContextStore]


@pytest.fixture(params=["memory", "redis"])
def make_store(request: pytest.FixtureRequest) -> StoreFactory:
    if request.param == "memory":
        return InMemoryContextStore
    client = request.getfixturevalue("redis_client")
    return lambda **options: RedisContextStore(client, ContextSeal(SEAL_KEY), **options)


def test_store_add_get_and_duplicate(make_store: StoreFactory) -> None:
    store = make_store()
    context = _context(claims=(Claim("name", "alice"),))
    store.add(context, _now())
    assert _same(store.get(context.identifier, _now()), context)
    with pytest.raises(KeyError):
        store.add(_context(identifier=context.identifier), _now())
    assert store.get("urn:uuid:unknown", _now()) is None


def test_store_replace_is_compare_and_set(make_store: StoreFactory) -> None:
    store = make_store()
    context = _context()
    store.add(context, _now())
    # Two nodes read the same context and both try to renew it: one wins, the other is stale.
    first = context.renewed(os.urandom(32), _now())
    second = context.renewed(os.urandom(32), _now())
    store.replace(context, first, _now())
    with pytest.raises(StaleContext):
        store.replace(context, second, _now())
    assert _same(store.get(context.identifier, _now()), first)
    # Amend compares the claims too.
    amended = first.amended((Claim("x509", "CN=one"),))
    store.replace(first, amended, _now())
    with pytest.raises(StaleContext):
        store.replace(first, first.amended((Claim("x509", "CN=two"),)), _now())
    with pytest.raises(ValueError):
        store.replace(amended, _context(), _now())


def test_store_remove_is_at_most_once_and_checks_the_instance(make_store: StoreFactory) -> None:
    store = make_store()
    context = _context().renewed(os.urandom(32), _now())
    store.add(context, _now())
    assert not store.remove(context.identifier, "urn:uuid:not-the-instance")
    assert store.remove(context.identifier, context.instance)
    assert not store.remove(context.identifier)
    assert store.get(context.identifier, _now()) is None
    with pytest.raises(StaleContext):
        store.replace(context, context.renewed(os.urandom(32), _now()), _now())


def test_store_refuses_newcomers_when_full(make_store: StoreFactory) -> None:
    store = make_store(capacity=2)
    held = [_context(), _context()]
    for context in held:
        store.add(context, _now())
        store.mark_used(context.identifier, _now())  # in use: never evicted, so the newcomer is refused
    with pytest.raises(StoreFull):
        store.add(_context(), _now())
    assert all(_same(store.get(c.identifier, _now()), c) for c in held)
    assert store.remove(held[0].identifier)
    store.add(_context(), _now())


def test_store_forgets_contexts_after_the_retention_window(make_store: StoreFactory) -> None:
    store = make_store(capacity=1, expired_retention=timedelta(seconds=1))
    brief = _context(lifetime=timedelta(seconds=1))
    store.add(brief, _now())
    assert _same(store.get(brief.identifier, _now() + timedelta(milliseconds=1500)), brief)  # expired, remembered
    assert store.get(brief.identifier, _now() + timedelta(seconds=3)) is None
    # Once forgotten, its place is free again.
    store.add(_context(), _now() + timedelta(seconds=3))


def test_redis_records_are_sealed(redis_client: redis.Redis) -> None:
    store = RedisContextStore(redis_client, ContextSeal(SEAL_KEY))
    context = _context(claims=(Claim("name", "alice"),))
    store.add(context, _now())
    hashes = [key for key in redis_client.scan_iter() if redis_client.type(key) == b"hash"]
    dump = b"".join(v for key in hashes for v in redis_client.hgetall(key).values())
    assert context.key not in dump and b"alice" not in dump and context.identifier.encode() not in dump
    # A record planted under another context's name does not open there.
    other = _context()
    store.add(other, _now())
    names = {store._member(c.identifier): c for c in (context, other)}
    blob = redis_client.hget("{wssc}:ctx:" + store._member(context.identifier), "blob")
    assert blob is not None and len(names) == 2
    redis_client.hset("{wssc}:ctx:" + store._member(other.identifier), "blob", blob)
    with pytest.raises(BadContextToken):
        store.get(other.identifier, _now())


def test_redis_store_refuses_a_decoding_client(redis_url: str) -> None:
    with pytest.raises(ValueError):
        RedisContextStore(redis.Redis.from_url(redis_url, decode_responses=True), ContextSeal(SEAL_KEY))


def test_redis_replay_cache_is_shared(redis_url: str) -> None:
    first = RedisReplayCache(redis.Redis.from_url(redis_url))
    second = RedisReplayCache(redis.Redis.from_url(redis_url))
    now = _now()
    key = os.urandom(32)
    assert first.add(key, now + timedelta(seconds=5), now)
    assert not second.add(key, now + timedelta(seconds=5), now)
    assert second.add(os.urandom(32), now + timedelta(seconds=5), now)


# -- a farm of two nodes ---------------------------------------------------------------------------------------


def _node(redis_url: str) -> SecureConversationService:
    """One node of the farm: its own Redis connection, the farm's sealing key and service certificate."""
    client: redis.Redis = redis.Redis.from_url(redis_url)
    return SecureConversationService(
        ServiceCredentials(*SERVICE),
        RedisContextStore(client, ContextSeal(SEAL_KEY)),
        replay_cache=RedisReplayCache(client),
    )


def _call(node: SecureConversationService, session: ClientSession, text: str) -> str:
    request = session.request(echo_body(text), "urn:e:echo")
    event = node.receive(request)
    assert isinstance(event, ApplicationRequest), getattr(event, "error", event)
    response = session.receive(node.respond(event, event.message.payload()))
    assert isinstance(response, Response)
    return "".join(response.message.body.itertext())


def test_two_nodes_share_every_operation(redis_client: redis.Redis, redis_url: str) -> None:
    a, b = _node(redis_url), _node(redis_url)
    session = ClientSession(ClientBootstrap(SERVICE[0]), "http://farm/echo", ClientSettings(version=SC_2005_02))

    event = a.receive(session.establish())
    assert isinstance(event, TokenReply)
    session.receive(event.reply.data)
    assert _call(b, session, "issued by a, used at b") == "issued by a, used at b"

    # A message accepted by one node is a replay at the other.
    request = session.request(echo_body("once"), "urn:e:echo")
    assert isinstance(a.receive(request), ApplicationRequest)
    replayed = b.receive(request)
    assert isinstance(replayed, FaultReply) and isinstance(replayed.error, InvalidSecurity)
    session._pending = None

    renew = b.receive(session.renew())
    assert isinstance(renew, TokenReply)
    assert isinstance(session.receive(renew.reply.data), Renewed)
    assert _call(a, session, "renewed at b, used at a") == "renewed at b, used at a"

    amend = a.receive(session.amend(*AMENDER))
    assert isinstance(amend, TokenReply)
    session.receive(amend.reply.data)
    assert session.context is not None
    event_b = b.receive(session.request(echo_body("claims"), "urn:e:echo"))
    assert isinstance(event_b, ApplicationRequest)
    assert ("x509", "CN=farm amender") in [(c.type, c.value) for c in event_b.claims]
    session.receive(b.respond(event_b, event_b.message.payload()))

    stale = session.context
    cancel = b.receive(session.cancel())
    assert isinstance(cancel, TokenReply)
    session.receive(cancel.reply.data)
    session.context = stale
    refused = a.receive(session.request(echo_body("after cancel"), "urn:e:echo"))
    assert isinstance(refused, FaultReply) and isinstance(refused.error, BadContextToken)


def test_concurrent_renewals_on_two_nodes_let_one_win(redis_client: redis.Redis, redis_url: str) -> None:
    a, b = _node(redis_url), _node(redis_url)
    session = ClientSession(ClientBootstrap(SERVICE[0]), "http://farm/echo")
    event = a.receive(session.establish())
    assert isinstance(event, TokenReply)
    session.receive(event.reply.data)
    assert session.context is not None
    twin = ClientSession(ClientBootstrap(SERVICE[0]), "http://farm/echo")
    twin.context = session.context
    first, second = a.receive(session.renew()), b.receive(twin.renew())
    assert isinstance(first, TokenReply)
    # The second renewal was signed with the instance the first one replaced.
    assert isinstance(second, FaultReply)
    session.receive(first.reply.data)
    assert _call(b, session, "one renewal won") == "one renewal won"


def test_two_wssc_serve_processes_share_contexts_through_redis(
    redis_client: redis.Redis, redis_url: str, tmp_path: Path
) -> None:
    """`wssc serve --redis`: a context issued by one process is used, renewed and cancelled through the
    other (the client's token requests go to node A as its issuer, its calls to node B)."""
    import httpx

    from http_support import serve_pair
    from wssc.adapters.http_client import WsscClient
    from wssc.security.soap import SOAP12

    with serve_pair(tmp_path, SERVICE, SEAL_KEY, "--redis", redis_url) as (a, b):
        client = WsscClient(b.url, ClientBootstrap(SERVICE[0]), issuer_url=a.url)
        context = client.establish()
        reply = client.call(echo_body("through b"), "urn:e:echo")
        assert "through b" in "".join(reply.body.itertext())
        assert client.renew().identifier == context.identifier
        reply = client.call(echo_body("renewed through a"), "urn:e:echo")
        assert "renewed through a" in "".join(reply.body.itertext())
        stale = client.session.context
        client.cancel()
        client.session.context = stale
        request = client.session.request(echo_body("after cancel"), "urn:e:echo")
        answer = httpx.post(b.url, content=request, headers={"Content-Type": SOAP12.content_type})
        assert answer.status_code == 500
        with pytest.raises(BadContextToken):
            client.session.receive(answer.content)
        client.session.context = None
        client.close()
    # Nothing was left behind: the cancelled context is gone from the shared store.
    assert redis_client.zcard("{wssc}:ctx-index") == 0


def test_a_request_reads_its_context_from_the_store_once() -> None:
    """The key resolver and the token service share one read per request (one Redis round trip, not two)."""

    class Counting(InMemoryContextStore):
        reads = 0

        def get(self, identifier: str, now: datetime) -> SecurityContext | None:
            Counting.reads += 1
            return super().get(identifier, now)

    store = Counting()
    node = SecureConversationService(ServiceCredentials(*SERVICE), store)
    session = ClientSession(ClientBootstrap(SERVICE[0]), "http://farm/echo")
    event = node.receive(session.establish())
    assert isinstance(event, TokenReply)
    session.receive(event.reply.data)
    Counting.reads = 0
    assert _call(node, session, "once") == "once"
    assert Counting.reads == 1
    Counting.reads = 0
    renew = node.receive(session.renew())
    assert isinstance(renew, TokenReply)
    assert Counting.reads == 1
    session.receive(renew.reply.data)
    # Outside a request the store is read through.
    assert node.store.get("urn:uuid:unknown", _now()) is None
