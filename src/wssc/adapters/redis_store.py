"""Contexts and replay detection shared by the nodes of a farm, in Redis (redis-py).

:class:`RedisContextStore` implements :class:`~wssc.conversation.store.ContextStore`: every state change is
one Lua script (atomic on the server), Renew and Amend are compare-and-set on the Instance and claims as in
memory, Cancel removes at most once, and never-used contexts live in a bounded pending pool as in memory (a
flood of Issue requests displaces only other pending contexts; with every place in use a new context is
refused, ``StoreFull``, and none evicted).  Records are sealed (:class:`~wssc.conversation.sealing.ContextSeal`,
AES-256-GCM bound to the Identifier), so whoever reads the Redis keyspace learns neither context keys nor
claims and cannot plant or swap a context; it can still delete them (protect Redis with AUTH/ACLs and TLS as
any session store).

:class:`RedisReplayCache` is the farm-wide :class:`~wssc.security.replay.ReplayCache`: a message replayed to
another node is refused there too.

Every key carries the hash tag ``{namespace}`` so the scripts also run on Redis Cluster (all contexts of a
namespace then live in one slot).  Expiry uses relative TTLs computed from the service's clock.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
from datetime import datetime, timedelta
from typing import Final

import redis

from wssc.conversation.context import SecurityContext
from wssc.conversation.sealing import ContextSeal
from wssc.conversation.store import ANY_INSTANCE, EXPIRED_RETENTION, MAX_CONTEXTS, StaleContext, StoreFull
from wssc.limits import INACTIVITY_TIMEOUT, MAX_PENDING_CONTEXTS
from wssc.security.replay import ReplayCacheFull

_PURPOSE: Final = "wssc context store"

# KEYS: the record, the index (every context by forget-at) and the pending set (never-used contexts by issue
# time).  Records of contexts dropped here are named from ARGV's prefix: they share the namespace's hash tag,
# hence the slot, as Redis Cluster requires.  Each context purged costs O(log n); nothing scans live ones.
_ADD: Final = """
local prefix, member = ARGV[1], ARGV[2]
local function drop(m)
  redis.call('DEL', prefix .. m)
  redis.call('ZREM', KEYS[2], m)
  redis.call('ZREM', KEYS[3], m)
end
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[3])) do drop(m) end
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', ARGV[4])) do drop(m) end
if redis.call('EXISTS', KEYS[1]) == 1 then return 'EXISTS' end
if redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[5]) then drop(redis.call('ZRANGE', KEYS[3], 0, 0)[1]) end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[6]) then
  local oldest = redis.call('ZRANGE', KEYS[3], 0, 0)[1]
  if not oldest then return 'FULL' end
  drop(oldest)
end
redis.call('HSET', KEYS[1], 'blob', ARGV[8], 'stamp', ARGV[9], 'instance', ARGV[10], 'pending', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[7])
redis.call('ZADD', KEYS[2], ARGV[11], member)
redis.call('ZADD', KEYS[3], ARGV[3], member)
return 'OK'
"""

_MARK_USED: Final = """
if redis.call('ZREM', KEYS[3], ARGV[1]) == 0 then return 0 end
local forget_at = redis.call('ZSCORE', KEYS[2], ARGV[1])
local issued = redis.call('HGET', KEYS[1], 'pending')
if not forget_at or not issued or tonumber(issued) <= tonumber(ARGV[3]) then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 0
end
redis.call('HDEL', KEYS[1], 'pending')
redis.call('PEXPIRE', KEYS[1], math.max(1, tonumber(forget_at) - tonumber(ARGV[2])))
return 1
"""

_REPLACE: Final = """
if redis.call('HGET', KEYS[1], 'stamp') ~= ARGV[1] then return 'STALE' end
redis.call('HSET', KEYS[1], 'blob', ARGV[3], 'stamp', ARGV[4], 'instance', ARGV[5])
redis.call('HDEL', KEYS[1], 'pending')
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[6], ARGV[7])
redis.call('ZREM', KEYS[3], ARGV[7])
return 'OK'
"""

_REMOVE: Final = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[1] == '1' and redis.call('HGET', KEYS[1], 'instance') ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[3])
redis.call('ZREM', KEYS[3], ARGV[3])
return 1
"""


#: (store, Identifier) whose last read, in this thread or task, found it in use: marking it used again is a
#: no-op (a context never returns to the pending pool), so it costs no round trip.
_SEEN_IN_USE: contextvars.ContextVar[tuple[int, str] | None] = contextvars.ContextVar("wssc_redis_in_use", default=None)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _instance_field(instance: str | None) -> str:
    return "-" if instance is None else "=" + instance


def _stamp(context: SecurityContext) -> str:
    """What a compare-and-set compares: the Instance and the claims (as the in-memory store does)."""
    state = [context.instance, [[c.type, c.value, c.issuer] for c in context.claims]]
    return hashlib.sha256(json.dumps(state).encode()).hexdigest()


class RedisContextStore:
    """A :class:`~wssc.conversation.store.ContextStore` in Redis; ``seal`` must be the same on every node.

    The same pools as :class:`~wssc.conversation.store.InMemoryContextStore`: a new context is pending (in
    a sorted set by issue time, its record expiring after ``inactivity_timeout``) until :meth:`mark_used`;
    at most ``max_pending`` are pending, the oldest pending one makes room for a newcomer, and a context in
    use is never evicted: when all ``capacity`` places hold one, a new context is refused (``StoreFull``).
    """

    def __init__(
        self,
        client: redis.Redis,
        seal: ContextSeal,
        *,
        namespace: str = "wssc",
        capacity: int = MAX_CONTEXTS,
        expired_retention: timedelta = EXPIRED_RETENTION,
        max_pending: int = MAX_PENDING_CONTEXTS,
        inactivity_timeout: timedelta = INACTIVITY_TIMEOUT,
    ) -> None:
        if client.get_connection_kwargs().get("decode_responses"):
            raise ValueError("the context store needs a Redis client that returns bytes (decode_responses=False)")
        if capacity < 1 or max_pending < 1:
            raise ValueError("capacity and max_pending must be at least 1")
        self._client = client
        self._seal = seal
        self._prefix = "{" + namespace + "}:ctx:"
        self._index = "{" + namespace + "}:ctx-index"
        self._pending = "{" + namespace + "}:ctx-pending"
        self._capacity = capacity
        self._retention = expired_retention
        self._max_pending = max_pending
        self._inactivity_ms = int(inactivity_timeout.total_seconds() * 1000)
        self._add = client.register_script(_ADD)
        self._mark_used = client.register_script(_MARK_USED)
        self._replace = client.register_script(_REPLACE)
        self._remove = client.register_script(_REMOVE)

    def _member(self, identifier: str) -> str:
        # Identifiers come from the wire (propagated contexts): hashed, their length cannot bloat key names.
        return hashlib.sha256(identifier.encode("utf-8")).hexdigest()

    def _keys(self, member: str) -> list[str]:
        return [self._prefix + member, self._index, self._pending]

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
        ttl = min(ttl, max(1, self._inactivity_ms))  # never used, it goes at the inactivity timeout
        args: list[bytes | str | int] = [
            self._prefix,
            member,
            _ms(now),
            _ms(now) - self._inactivity_ms,
            self._max_pending,
            self._capacity,
            ttl,
            blob,
            stamp,
            instance,
            forget_at,
        ]
        outcome = self._add(keys=self._keys(member), args=args)
        if outcome == b"EXISTS":
            raise KeyError(context.identifier)
        if outcome == b"FULL":
            raise StoreFull(f"{self._capacity} contexts in use")

    def get(self, identifier: str, now: datetime) -> SecurityContext | None:
        blob, pending = self._client.hmget(self._prefix + self._member(identifier), ["blob", "pending"])
        if not isinstance(blob, bytes):
            return None
        if isinstance(pending, bytes) and _ms(now) - int(pending) >= self._inactivity_ms:
            return None  # never used within the inactivity timeout (its record is about to expire)
        context = self._seal.open(blob, identifier, _PURPOSE)
        if now >= context.expires + self._retention:
            return None
        _SEEN_IN_USE.set(None if isinstance(pending, bytes) else (id(self), identifier))
        return context

    def mark_used(self, identifier: str, now: datetime) -> None:
        if _SEEN_IN_USE.get() == (id(self), identifier):
            return
        member = self._member(identifier)
        self._mark_used(keys=self._keys(member), args=[member, _ms(now), _ms(now) - self._inactivity_ms])

    def replace(self, expected: SecurityContext, new: SecurityContext, now: datetime) -> None:
        """Renew and Amend are made under the context's key: the context is in use from then on."""
        if expected.identifier != new.identifier:
            raise ValueError("a context keeps its Identifier")
        member = self._member(new.identifier)
        ttl, forget_at, blob, stamp, instance = self._record(new, now)
        args: list[bytes | str | int] = [_stamp(expected), ttl, blob, stamp, instance, forget_at, member]
        if self._replace(keys=self._keys(member), args=args) != b"OK":
            raise StaleContext(expected.identifier)

    def remove(self, identifier: str, expected_instance: str | None = ANY_INSTANCE) -> bool:
        member = self._member(identifier)
        check = "0" if expected_instance == ANY_INSTANCE else "1"
        args = [check, _instance_field(expected_instance), member]
        return bool(self._remove(keys=self._keys(member), args=args))

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
