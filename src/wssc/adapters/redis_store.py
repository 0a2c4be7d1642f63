"""Contexts and replay detection shared by the nodes of a farm, in Redis (redis-py).

:class:`RedisContextStore` implements :class:`~wssc.conversation.store.ContextStore`: every state change is
one Lua script (atomic on the server), Renew and Amend are compare-and-set on the Instance and claims as in
memory, Cancel removes at most once, and at capacity a new context is refused (``StoreFull``), never another
one evicted.  Records are sealed (:class:`~wssc.conversation.sealing.ContextSeal`, AES-256-GCM bound to the
Identifier), so whoever reads the Redis keyspace learns neither context keys nor claims and cannot plant or
swap a context; it can still delete them (protect Redis with AUTH/ACLs and TLS as any session store).

:class:`RedisReplayCache` is the farm-wide :class:`~wssc.security.replay.ReplayCache`: a message replayed to
another node is refused there too.

Every key carries the hash tag ``{namespace}`` so the scripts also run on Redis Cluster (all contexts of a
namespace then live in one slot).  Expiry uses relative TTLs computed from the service's clock.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Final

import redis

from wssc.conversation.context import SecurityContext
from wssc.conversation.sealing import ContextSeal
from wssc.conversation.store import EXPIRED_RETENTION, MAX_CONTEXTS, StaleContext, StoreFull
from wssc.security.replay import ReplayCacheFull

_PURPOSE: Final = "wssc context store"

_ADD: Final = """
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 1 then return 'EXISTS' end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[2]) then return 'FULL' end
redis.call('HSET', KEYS[1], 'blob', ARGV[4], 'stamp', ARGV[5], 'instance', ARGV[6])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[7], ARGV[8])
return 'OK'
"""

_REPLACE: Final = """
if redis.call('HGET', KEYS[1], 'stamp') ~= ARGV[1] then return 'STALE' end
redis.call('HSET', KEYS[1], 'blob', ARGV[3], 'stamp', ARGV[4], 'instance', ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[6], ARGV[7])
return 'OK'
"""

_REMOVE: Final = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[1] == '1' and redis.call('HGET', KEYS[1], 'instance') ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[3])
return 1
"""


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _instance_field(instance: str | None) -> str:
    return "-" if instance is None else "=" + instance


def _stamp(context: SecurityContext) -> str:
    """What a compare-and-set compares: the Instance and the claims (as the in-memory store does)."""
    state = [context.instance, [[c.type, c.value, c.issuer] for c in context.claims]]
    return hashlib.sha256(json.dumps(state).encode()).hexdigest()


class RedisContextStore:
    """A :class:`~wssc.conversation.store.ContextStore` in Redis; ``seal`` must be the same on every node."""

    def __init__(
        self,
        client: redis.Redis,
        seal: ContextSeal,
        *,
        namespace: str = "wssc",
        capacity: int = MAX_CONTEXTS,
        expired_retention: timedelta = EXPIRED_RETENTION,
    ) -> None:
        if client.get_connection_kwargs().get("decode_responses"):
            raise ValueError("the context store needs a Redis client that returns bytes (decode_responses=False)")
        self._client = client
        self._seal = seal
        self._prefix = "{" + namespace + "}:ctx:"
        self._index = "{" + namespace + "}:ctx-index"
        self._capacity = capacity
        self._retention = expired_retention
        self._add = client.register_script(_ADD)
        self._replace = client.register_script(_REPLACE)
        self._remove = client.register_script(_REMOVE)

    def _member(self, identifier: str) -> str:
        # Identifiers come from the wire (propagated contexts): hashed, their length cannot bloat key names.
        return hashlib.sha256(identifier.encode("utf-8")).hexdigest()

    def _record(self, context: SecurityContext, now: datetime) -> tuple[int, int, bytes, str, str]:
        forget_at = context.expires + self._retention
        ttl = max(1, _ms(forget_at) - _ms(now))
        return (
            ttl,
            _ms(forget_at),
            self._seal.seal(context, _PURPOSE),
            _stamp(context),
            _instance_field(context.instance),
        )

    def add(self, context: SecurityContext, now: datetime) -> None:
        member = self._member(context.identifier)
        ttl, forget_at, blob, stamp, instance = self._record(context, now)
        args: list[bytes | str | int] = [_ms(now), self._capacity, ttl, blob, stamp, instance, forget_at, member]
        outcome = self._add(keys=[self._prefix + member, self._index], args=args)
        if outcome == b"EXISTS":
            raise KeyError(context.identifier)
        if outcome == b"FULL":
            raise StoreFull(f"{self._capacity} contexts")

    def get(self, identifier: str, now: datetime) -> SecurityContext | None:
        blob = self._client.hget(self._prefix + self._member(identifier), "blob")
        if not isinstance(blob, bytes):
            return None
        context = self._seal.open(blob, identifier, _PURPOSE)
        if now >= context.expires + self._retention:
            return None
        return context

    def replace(self, expected: SecurityContext, new: SecurityContext, now: datetime) -> None:
        if expected.identifier != new.identifier:
            raise ValueError("a context keeps its Identifier")
        member = self._member(new.identifier)
        ttl, forget_at, blob, stamp, instance = self._record(new, now)
        args: list[bytes | str | int] = [_stamp(expected), ttl, blob, stamp, instance, forget_at, member]
        if self._replace(keys=[self._prefix + member, self._index], args=args) != b"OK":
            raise StaleContext(expected.identifier)

    def remove(self, identifier: str, expected_instance: str | None = None) -> bool:
        member = self._member(identifier)
        check = "0" if expected_instance is None else "1"
        args = [check, _instance_field(expected_instance), member]
        return bool(self._remove(keys=[self._prefix + member, self._index], args=args))

    def __len__(self) -> int:
        return int(self._client.zcard(self._index))


class RedisReplayCache:
    """A :class:`~wssc.security.replay.ReplayCache` shared by a farm: ``SET NX PX``, the TTL being the
    receiver's retention (``replay_retention``: WCF's replay window plus twice the skew, 15 minutes by
    default), never the sender's Expires, so entries cannot be made to outlive their use.

    Redis's memory is the bound: run it with ``maxmemory-policy noeviction`` (the default) so that a live
    entry is never evicted to make room; a write refused for memory (OOM) refuses the message with
    :class:`~wssc.security.replay.ReplayCacheFull`, as the in-memory cache does at capacity."""

    def __init__(self, client: redis.Redis, *, namespace: str = "wssc") -> None:
        self._client = client
        self._prefix = "{" + namespace + "}:replay:"

    def add(self, key: bytes, expires: datetime, now: datetime) -> bool:
        ttl = max(1, _ms(expires) - _ms(now))
        try:
            return bool(self._client.set(self._prefix + key.hex(), b"1", nx=True, px=ttl))
        except redis.exceptions.OutOfMemoryError:
            raise ReplayCacheFull("Redis refused a replay cache entry (out of memory)") from None


def farm_store(url: str, seal: ContextSeal, *, namespace: str = "wssc") -> tuple[RedisContextStore, RedisReplayCache]:
    """The context store and replay cache of a farm whose nodes share the Redis at ``url`` and ``seal``."""
    client: redis.Redis = redis.Redis.from_url(url)
    return RedisContextStore(client, seal, namespace=namespace), RedisReplayCache(client, namespace=namespace)
