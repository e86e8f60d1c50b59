"""State that every app node must share: sign-in sessions and rate-limit counters.

They live in the database (the default: one node or many, nothing else to run) or, with
``LUOTSI_REDIS_URL``, in Redis, so that sign-ins and floods of requests do not write to the
database. :func:`open_shared_state` chooses once per process, from the settings; the web
layer hands its stores (``shared.sessions``, ``shared.limits``) to the services, each of which
takes the stores it uses. Every node of a deployment must be given the same choice.

In Redis every key expires by itself (nothing to prune), and each count is one Lua script,
so concurrent hits on any number of nodes never let more through than the limit. Times come
from the app's clock, as in the database, so both stores answer alike (and tests can move
the clock); Redis's own clock only expires keys. Keys are ``<prefix>session:<hash>``,
``<prefix>sessions-of:<user id>`` and ``<prefix>rate:<bucket>:<key>``; the scripts name keys
they derive (a user's sessions), so one Redis server is assumed, not a Redis Cluster
(docs/decisions.md).
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from redis.asyncio import BlockingConnectionPool, Redis
from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.platform import clock
from luotsi.platform.db import set_session_user
from luotsi.platform.errors import RateLimited
from luotsi.platform.health import NotUsed, Probe, readiness_check
from luotsi.platform.identity import DatabaseSessions, SignInSessions, User
from luotsi.platform.ratelimit import KEY_LENGTH, Counted, DatabaseRateLimits, RateLimits
from luotsi.platform.settings import Settings

# Connections one process opens to Redis at most; a request waits for a free one (at most
# the timeout, then it fails) rather than opening ever more under a burst of sign-ins.
REDIS_CONNECTIONS = 50
REDIS_WAIT_SECONDS = 10


@dataclass(frozen=True)
class SharedState:
    """The stores of one process, chosen at its start (:func:`open_shared_state`)."""

    sessions: SignInSessions
    limits: RateLimits
    redis: Redis | None = None  # the client the Redis stores share, closed with the process

    async def close(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()


def open_shared_state(settings: Settings) -> SharedState:
    """Redis stores when ``LUOTSI_REDIS_URL`` is set, else the database's. Connects lazily:
    a Redis that does not answer fails the requests that need it and ``/readyz``."""
    if not settings.redis_url:
        return SharedState(DatabaseSessions(), DatabaseRateLimits())
    pool = BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=REDIS_CONNECTIONS,
        timeout=REDIS_WAIT_SECONDS,
        decode_responses=True,
    )
    client = Redis.from_pool(pool)
    prefix = settings.redis_prefix
    return SharedState(RedisSessions(client, prefix), RedisRateLimits(client, prefix), client)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _ms_of(duration: timedelta) -> int:
    return int(duration.total_seconds() * 1000)


# --- sessions -------------------------------------------------------------------------------

# Ends every session of an account at once, so a sign-in at the same moment either ends too or
# starts after (and stays): never a session that escaped the list.
_END_ALL = """
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  redis.call('DEL', ARGV[1] .. id)
end
redis.call('DEL', KEYS[1])
"""


class RedisSessions:
    """A session is a hash (account, expiry, address) that expires with the session; each
    account has a set of its sessions' ids, so that a password change ends them all."""

    def __init__(self, client: Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self._end_all = client.register_script(_END_ALL)

    def _session(self, session_id: str) -> str:
        return f"{self.prefix}session:{session_id}"

    def _of(self, user_id: uuid.UUID) -> str:
        return f"{self.prefix}sessions-of:{user_id}"

    async def add(
        self, db: AsyncSession, session_id: str, user_id: uuid.UUID, ip: str, expires_at: datetime
    ) -> None:
        # Relative lifetimes: Redis's clock need not agree with the app's.
        lifetime = max(_ms_of(expires_at - clock.now()), 1)
        key, of = self._session(session_id), self._of(user_id)
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={"user": str(user_id), "expires": _ms(expires_at), "ip": ip})
            pipe.pexpire(key, lifetime)
            pipe.sadd(of, session_id)
            pipe.pexpire(of, lifetime)  # the newest session lives longest
            await pipe.execute()

    async def user(self, db: AsyncSession, session_id: str) -> User | None:
        user_id, expires = await self.client.hmget(self._session(session_id), ["user", "expires"])
        if user_id is None or expires is None or int(expires) <= _ms(clock.now()):
            return None
        user = await db.get(User, uuid.UUID(str(user_id)))
        if user is None or not user.is_active:
            return None
        await set_session_user(db, user.id)  # the policies that show a user their own rows
        return user

    async def remove(self, db: AsyncSession, session_id: str) -> None:
        # Its id stays in the account's set until the set expires: ending a missing key is a
        # no-op for :meth:`remove_all_of`.
        await self.client.delete(self._session(session_id))

    async def remove_all_of(self, db: AsyncSession, user_id: uuid.UUID) -> None:
        await self._end_all(keys=[self._of(user_id)], args=[self._session("")])


# --- rate limits ----------------------------------------------------------------------------

# A window's events are a sorted set scored by time; an event is added only if it passes.
# KEYS[1] the counter; ARGV now, window, limit, event id (ms). Returns {1} or {0, oldest}.
_HIT = """
local now, window, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - window))
if redis.call('ZCARD', KEYS[1]) >= limit then
  return {0, redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2]}
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], window)
return {1}
"""
# ARGV now, memory, free, first wait, longest wait, event id (ms). Returns {1} or {0, wait}.
_THROTTLE = """
local now, memory, free = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - memory))
local earlier = redis.call('ZCARD', KEYS[1])
if earlier >= free then
  local last = tonumber(redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')[2])
  local wait = math.min(tonumber(ARGV[4]) * 2 ^ math.min(earlier - free, 32), tonumber(ARGV[5]))
  if now < last + wait then
    return {0, tostring(last + wait - now)}
  end
end
redis.call('ZADD', KEYS[1], now, ARGV[6])
redis.call('PEXPIRE', KEYS[1], memory)
return {1}
"""


class RedisRateLimits:
    """A sorted set of event times per (bucket, key), kept as long as its window. Unlike the
    database store, a counted event stays counted when the caller's request fails later."""

    def __init__(self, client: Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self._hit = client.register_script(_HIT)
        self._throttle = client.register_script(_THROTTLE)

    def _counter(self, bucket: str, key: str) -> str:
        return f"{self.prefix}rate:{bucket}:{key[:KEY_LENGTH]}"

    async def hit(
        self, db: AsyncSession, bucket: str, key: str, limit: int, window: timedelta
    ) -> Counted:
        now, event = _ms(clock.now()), secrets.token_hex(8)
        found = await self._hit(
            keys=[self._counter(bucket, key)], args=[now, _ms_of(window), limit, event]
        )
        if not found[0]:
            oldest = float(found[1])
            raise RateLimited(window - timedelta(milliseconds=now - oldest))
        return Counted(bucket, key, event)

    async def throttle(
        self,
        db: AsyncSession,
        bucket: str,
        key: str,
        *,
        free: int,
        first_wait: timedelta,
        longest_wait: timedelta,
        memory: timedelta,
    ) -> Counted:
        event = secrets.token_hex(8)
        args = [_ms(clock.now()), _ms_of(memory), free, _ms_of(first_wait), _ms_of(longest_wait)]
        found = await self._throttle(keys=[self._counter(bucket, key)], args=[*args, event])
        if not found[0]:
            raise RateLimited(timedelta(milliseconds=float(found[1])))
        return Counted(bucket, key, event)

    async def forget(self, db: AsyncSession, bucket: str, key: str) -> None:
        await self.client.delete(self._counter(bucket, key))

    async def take_back(self, db: AsyncSession, counted: Counted) -> None:
        await self.client.zrem(self._counter(counted.bucket, counted.key), counted.ref)


@readiness_check("redis")
async def redis_answers(probe: Probe) -> None:
    """With ``LUOTSI_REDIS_URL``, sign-ins need Redis: a node that cannot reach it is not
    ready. Without it there is nothing to check."""
    if not probe.settings.redis_url:
        raise NotUsed
    client = Redis.from_url(probe.settings.redis_url)
    try:
        await client.ping()
    finally:
        await client.aclose()
