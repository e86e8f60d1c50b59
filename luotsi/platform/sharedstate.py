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
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.platform import clock
from luotsi.platform.db import set_session_user
from luotsi.platform.errors import RateLimited
from luotsi.platform.health import NotUsed, Probe, readiness_check
from luotsi.platform.identity import (
    LAST_SEEN_PRECISION,
    DatabaseSessions,
    SessionInfo,
    SessionTimes,
    SignInSessions,
    User,
)
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
    times = SessionTimes(
        idle=timedelta(minutes=settings.session_idle_minutes),
        lifetime=timedelta(hours=settings.session_lifetime_hours),
    )
    if not settings.redis_url:
        return SharedState(DatabaseSessions(times), DatabaseRateLimits())
    pool = BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=REDIS_CONNECTIONS,
        timeout=REDIS_WAIT_SECONDS,
        decode_responses=True,
    )
    client = Redis.from_pool(pool)
    prefix = settings.redis_prefix
    return SharedState(
        RedisSessions(client, prefix, times), RedisRateLimits(client, prefix), client
    )


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _ms_of(duration: timedelta) -> int:
    return int(duration.total_seconds() * 1000)


# --- sessions -------------------------------------------------------------------------------

# Ends every session of an account at once (but ARGV[2], when not empty), so a sign-in at the
# same moment either ends too or starts after (and stays): never a session that escaped the list.
_END_ALL = """
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if id ~= ARGV[2] then
    redis.call('DEL', ARGV[1] .. id)
    redis.call('SREM', KEYS[1], id)
  end
end
"""
_FIELDS = ["user", "created", "last", "expires", "confirmed", "ip", "device"]


def _moment(ms: str) -> datetime:
    return datetime.fromtimestamp(int(ms) / 1000, UTC)


class RedisSessions:
    """A session is a hash (account, times, address range, device) that expires by itself
    when it would have gone idle or reached its lifetime; each account has a set of its
    sessions' ids, so that its sessions can be listed and ended together."""

    def __init__(self, client: Redis, prefix: str, times: SessionTimes | None = None) -> None:
        self.client = client
        self.prefix = prefix
        self.times = times or SessionTimes()
        self._end_all = client.register_script(_END_ALL)

    def _session(self, session_id: str) -> str:
        return f"{self.prefix}session:{session_id}"

    def _of(self, user_id: uuid.UUID) -> str:
        return f"{self.prefix}sessions-of:{user_id}"

    def _ttl(self, expires_ms: int) -> int:
        # Relative lifetimes: Redis's clock need not agree with the app's. The app's clock
        # decides (:meth:`_read`); the key's own expiry only cleans up.
        remaining = expires_ms - _ms(clock.now())
        return max(min(remaining, _ms_of(self.times.idle)), 1)

    async def add(
        self, db: AsyncSession, session_id: str, user_id: uuid.UUID, ip_range: str, device: str
    ) -> None:
        now = clock.now()
        expires = _ms(now + self.times.lifetime)
        key, of = self._session(session_id), self._of(user_id)
        fields: dict[Any, Any] = {
            "user": str(user_id),
            "created": _ms(now),
            "last": _ms(now),
            "expires": expires,
            "confirmed": _ms(now),
            "ip": ip_range,
            "device": device,
        }
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=fields)
            pipe.pexpire(key, self._ttl(expires))
            pipe.sadd(of, session_id)
            pipe.pexpire(of, _ms_of(self.times.lifetime))  # the newest session lives longest
            await pipe.execute()

    def _read(self, session_id: str, values: Sequence[object]) -> SessionInfo | None:
        found = dict(zip(_FIELDS, values, strict=True))
        if any(found[name] is None for name in ("user", "created", "last", "expires")):
            return None
        now = _ms(clock.now())
        last, expires = int(str(found["last"])), int(str(found["expires"]))
        if expires <= now or last + _ms_of(self.times.idle) <= now:
            return None
        return SessionInfo(
            id=session_id,
            user_id=uuid.UUID(str(found["user"])),
            created_at=_moment(str(found["created"])),
            last_seen_at=_moment(str(last)),
            expires_at=_moment(str(expires)),
            confirmed_at=_moment(str(found["confirmed"] or found["created"])),
            ip_range=str(found["ip"] or ""),
            device=str(found["device"] or ""),
        )

    async def find(self, db: AsyncSession, session_id: str) -> tuple[User, SessionInfo] | None:
        key = self._session(session_id)
        info = self._read(session_id, await self.client.hmget(key, _FIELDS))
        if info is None:
            return None
        user = await db.get(User, info.user_id)
        if user is None or not user.is_active:
            return None
        await set_session_user(db, user.id)  # the policies that show a user their own rows
        now = clock.now()
        if info.last_seen_at <= now - LAST_SEEN_PRECISION:
            expires = _ms(info.expires_at)
            async with self.client.pipeline(transaction=True) as pipe:
                # Only while the key exists: a session ended meanwhile is not brought back.
                pipe.hset(key, "last", _ms(now))
                pipe.pexpire(key, self._ttl(expires))
                pipe.hexists(key, "user")
                written = await pipe.execute()
            if not written[2]:
                await self.client.delete(key)
                return None
            info = replace(info, last_seen_at=now)
        return user, info

    async def active_of(self, db: AsyncSession, user_id: uuid.UUID) -> list[SessionInfo]:
        ids = sorted(str(member) for member in await self.client.smembers(self._of(user_id)))
        async with self.client.pipeline(transaction=False) as pipe:
            for session_id in ids:
                pipe.hmget(self._session(session_id), _FIELDS)
            rows = await pipe.execute() if ids else []
        found = [
            self._read(session_id, values) for session_id, values in zip(ids, rows, strict=True)
        ]
        active = [info for info in found if info is not None and info.user_id == user_id]
        return sorted(active, key=lambda info: info.last_seen_at, reverse=True)

    async def confirm(self, db: AsyncSession, session_id: str) -> None:
        key = self._session(session_id)
        if await self.client.exists(key):
            await self.client.hset(key, "confirmed", _ms(clock.now()))

    async def remove(self, db: AsyncSession, session_id: str) -> None:
        # Its id stays in the account's set until the set expires: ending a missing key is a
        # no-op for :meth:`remove_all_of`, and :meth:`active_of` skips it.
        await self.client.delete(self._session(session_id))

    async def remove_all_of(
        self, db: AsyncSession, user_id: uuid.UUID, *, keep: str | None = None
    ) -> None:
        await self._end_all(keys=[self._of(user_id)], args=[self._session(""), keep or ""])


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
