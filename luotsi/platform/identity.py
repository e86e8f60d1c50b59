"""People and signing in: users, password hashes, server-side sessions, single-use links."""

from __future__ import annotations

import enum
import hashlib
import ipaddress
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Boolean, ForeignKey, String, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column
from zxcvbn import zxcvbn

from luotsi.platform import audit, clock
from luotsi.platform.db import Base, applying_scope, set_session_user, str_enum
from luotsi.platform.errors import Invalid, NotFound, RateLimited
from luotsi.platform.i18n import gettext as _
from luotsi.platform.ratelimit import RateLimits
from luotsi.platform.useragent import device_of

MIN_PASSWORD_LENGTH = 10
# An account's failed sign-ins: the first few are free, then each further attempt waits twice
# as long as the one before (30 s, 1 min, 2 min ... at most 15 min) after the last one. Refused
# attempts do not count, so its owner gets in after the wait (docs/decisions.md).
FREE_FAILURES_PER_ACCOUNT = 5
ACCOUNT_FIRST_WAIT = timedelta(seconds=30)
ACCOUNT_LONGEST_WAIT = timedelta(minutes=15)
ACCOUNT_FAILURE_MEMORY = timedelta(hours=24)
# A client's sign-ins, checked or not (a success takes its attempt back): generous, since many
# people may share one address (an office; a proxy whose X-Forwarded-For is not trusted).
LOGIN_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_IP = 100
LOGIN_BY_ACCOUNT = "login-account"
LOGIN_BY_IP = "login-ip"
# Requests that e-mail a link to an address (a password reset, a signup): limited per address
# and per client, so nobody floods a mailbox or reserves firm names in bulk.
MAIL_REQUESTS_PER_ADDRESS = 3
MAIL_REQUESTS_PER_IP = 10
MAIL_REQUEST_WINDOW = timedelta(hours=1)


class User(Base):
    """A person. Global: one account may belong to several firms."""

    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    locale: Mapped[str] = mapped_column(String(5), default="fi")
    email_verified_at: Mapped[datetime | None]
    is_operator: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class UserSession(Base):
    """A signed-in browser. The cookie holds a random token; the table holds its hash."""

    __tablename__ = "user_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the token
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    # The absolute end (sign-in + lifetime); retention prunes the expired and the idle.
    expires_at: Mapped[datetime] = mapped_column(index=True)
    last_seen_at: Mapped[datetime] = mapped_column(default=clock.now, index=True)
    # The last time its user proved who they are: the sign-in or a re-confirmation.
    confirmed_at: Mapped[datetime] = mapped_column(default=clock.now)
    ip: Mapped[str] = mapped_column(String(45), default="")  # the range only (ip_range)
    device: Mapped[str] = mapped_column(String(60), default="", server_default="")


# A request refreshes its session's last-seen time at most this often: not a write per request.
LAST_SEEN_PRECISION = timedelta(minutes=1)


@dataclass(frozen=True)
class SessionTimes:
    """How long a sign-in session lasts: ``idle`` without a request, ``lifetime`` at most."""

    idle: timedelta = timedelta(minutes=30)
    lifetime: timedelta = timedelta(hours=12)


@dataclass(frozen=True)
class SessionInfo:
    """One active sign-in session as its owner may see it (never the token or its hash)."""

    id: str  # the hash of the cookie's token: the stores' key, not shown
    user_id: uuid.UUID
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    confirmed_at: datetime
    ip_range: str
    device: str

    @property
    def handle(self) -> str:
        """What a page names the session by (sign out this one): derived, not the key."""
        return hashlib.sha256(f"handle:{self.id}".encode()).hexdigest()[:24]


def ip_range(ip: str) -> str:
    """The network an address belongs to, never the address: /24 for IPv4, /48 for IPv6."""
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return ""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


class SignInSessions(Protocol):
    """Where sign-in sessions live, each under the hash of its cookie's token. Every method
    takes the caller's database session: the database store writes in the caller's
    transaction, another store ignores it (but reads the account through it).

    A session is active until ``times.idle`` passes without a request or ``times.lifetime``
    after its sign-in, whichever comes first; both are measured with the app's clock."""

    times: SessionTimes

    async def add(
        self, db: AsyncSession, session_id: str, user_id: uuid.UUID, ip_range: str, device: str
    ) -> None: ...

    async def find(self, db: AsyncSession, session_id: str) -> tuple[User, SessionInfo] | None:
        """The active account and the session, or None. Refreshes the session's last-seen
        time when it is older than :data:`LAST_SEEN_PRECISION`."""
        ...

    async def active_of(self, db: AsyncSession, user_id: uuid.UUID) -> list[SessionInfo]:
        """The account's active sessions, the latest seen first."""
        ...

    async def confirm(self, db: AsyncSession, session_id: str) -> None:
        """Note that the session's user proved who they are just now."""
        ...

    async def remove(self, db: AsyncSession, session_id: str) -> None: ...

    async def remove_all_of(
        self, db: AsyncSession, user_id: uuid.UUID, *, keep: str | None = None
    ) -> None:
        """End every session of the account (but ``keep``, when given)."""
        ...


class DatabaseSessions:
    """Sessions as rows of ``user_sessions``: written and ended in the caller's transaction;
    retention prunes the expired and the idle (:mod:`luotsi.platform.retention`)."""

    def __init__(self, times: SessionTimes | None = None) -> None:
        self.times = times or SessionTimes()

    def _active(self, now: datetime) -> tuple[Any, ...]:
        return (UserSession.expires_at > now, UserSession.last_seen_at > now - self.times.idle)

    async def add(
        self, db: AsyncSession, session_id: str, user_id: uuid.UUID, ip_range: str, device: str
    ) -> None:
        now = clock.now()
        db.add(
            UserSession(
                id=session_id,
                user_id=user_id,
                ip=ip_range,
                device=device,
                created_at=now,
                last_seen_at=now,
                confirmed_at=now,
                expires_at=now + self.times.lifetime,
            )
        )
        await db.flush()

    async def find(self, db: AsyncSession, session_id: str) -> tuple[User, SessionInfo] | None:
        # One statement finds the account and names it on the connection for the policies
        # that show a user their own rows (:func:`~luotsi.platform.db.set_session_user`).
        now = clock.now()
        statement = (
            select(User, UserSession)
            .join(UserSession, UserSession.user_id == User.id)
            .where(UserSession.id == session_id, *self._active(now), User.is_active.is_(True))
        )
        found = (await db.execute(applying_scope(db, statement, user_id=User.id))).first()
        if found is None:
            return None
        user, row = found[0], found[1]
        await set_session_user(db, user.id, applied=True)
        if row.last_seen_at <= now - LAST_SEEN_PRECISION:
            await db.execute(
                update(UserSession).where(UserSession.id == session_id).values(last_seen_at=now)
            )
            row.last_seen_at = now
        return user, _info(row)

    async def active_of(self, db: AsyncSession, user_id: uuid.UUID) -> list[SessionInfo]:
        rows = await db.scalars(
            select(UserSession)
            .where(UserSession.user_id == user_id, *self._active(clock.now()))
            .order_by(UserSession.last_seen_at.desc(), UserSession.id)
        )
        return [_info(row) for row in rows]

    async def confirm(self, db: AsyncSession, session_id: str) -> None:
        await db.execute(
            update(UserSession).where(UserSession.id == session_id).values(confirmed_at=clock.now())
        )

    async def remove(self, db: AsyncSession, session_id: str) -> None:
        await db.execute(delete(UserSession).where(UserSession.id == session_id))

    async def remove_all_of(
        self, db: AsyncSession, user_id: uuid.UUID, *, keep: str | None = None
    ) -> None:
        statement = delete(UserSession).where(UserSession.user_id == user_id)
        if keep is not None:
            statement = statement.where(UserSession.id != keep)
        await db.execute(statement)


def _info(row: UserSession) -> SessionInfo:
    return SessionInfo(
        id=row.id,
        user_id=row.user_id,
        created_at=row.created_at,
        last_seen_at=row.last_seen_at,
        expires_at=row.expires_at,
        confirmed_at=row.confirmed_at,
        ip_range=row.ip,
        device=row.device,
    )


class TokenPurpose(enum.StrEnum):
    VERIFY_EMAIL = "verify_email"
    RESET_PASSWORD = "reset_password"  # noqa: S105 - a purpose name, not a secret
    STRIPE_CONNECT = "stripe_connect"  # the OAuth state of connecting a firm's Stripe account
    CHANGE_EMAIL = "change_email"  # the link sent to a new address; ``AuthToken.email`` holds it


TOKEN_LIFETIME = {
    TokenPurpose.VERIFY_EMAIL: timedelta(days=2),
    TokenPurpose.RESET_PASSWORD: timedelta(hours=1),
    TokenPurpose.STRIPE_CONNECT: timedelta(minutes=30),
    TokenPurpose.CHANGE_EMAIL: timedelta(hours=24),
}


class AuthToken(Base):
    """A single-use, expiring link sent by e-mail. Only the hash is stored."""

    __tablename__ = "auth_tokens"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the token
    purpose: Mapped[TokenPurpose] = mapped_column(str_enum(TokenPurpose))
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE")
    )
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    # A signup's password and name wait here until its link is followed: a signup never
    # writes them to an account, so nobody can set the password of an address they do not own.
    password_hash: Mapped[str | None] = mapped_column(String(200))
    name: Mapped[str | None] = mapped_column(String(200))
    # The new address of an e-mail change, set when its link is followed.
    email: Mapped[str | None] = mapped_column(String(254))


# --- passwords ------------------------------------------------------------------------------


@dataclass
class PasswordPolicy:
    hasher: PasswordHasher

    def hash(self, password: str) -> str:
        return self.hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        if not password_hash:
            return False
        try:
            return self.hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False


_policy = PasswordPolicy(PasswordHasher())
# Hash checked when the account does not exist, so a miss costs as much time as a hit.
_DUMMY_HASH: str | None = None


def configure_password_hashing(time_cost: int, memory_kib: int) -> None:
    global _DUMMY_HASH
    _policy.hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)
    _DUMMY_HASH = None


def hash_password(password: str) -> str:
    return _policy.hash(password)


def password_matches(user: User, password: str) -> bool:
    """Whether ``password`` is the account's (no limits: the caller counts the attempts)."""
    return _policy.verify(user.password_hash, password)


# zxcvbn's estimate (its data includes the 30,000 most common passwords from breaches) must
# reach "safely unguessable", at least 10^8 guesses; it reads the first 72 characters.
MIN_PASSWORD_SCORE = 3
PASSWORD_CHARS_ESTIMATED = 72
PERSONAL_WORD_LENGTH = 4  # shorter parts of a name or address are not looked for
OTHER_THAN_PERSONAL = 6  # letters and digits a password needs besides the name and address


def _letters_and_digits(text: str) -> str:
    return "".join(c for c in text.casefold() if c.isalnum())


def _personal_words(email: str, name: str) -> list[str]:
    """The parts of a person's name and address, longest first."""
    words = {email, *re.split(r"[@._+-]+", email), name, *name.split()}
    kept = {w for w in map(_letters_and_digits, words) if len(w) >= PERSONAL_WORD_LENGTH}
    return sorted(kept, key=len, reverse=True)


def check_password_rules(password: str, *, email: str, name: str, field: str = "password") -> None:
    """The one policy for every new password (signup, invitation, reset, change, operators).

    At least 10 characters; not made of the person's own name or e-mail address (six letters
    or digits besides them); and not easy to guess: zxcvbn's estimate, which knows the most
    common breached passwords, repeats, sequences and keyboard patterns (docs/decisions.md).
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid.field(field, _("Use at least %(n)d characters.") % {"n": MIN_PASSWORD_LENGTH})
    if len(password) > 512:
        raise Invalid.field(field, _("That password is too long."))
    personal = _personal_words(email, name)
    rest = _letters_and_digits(password)
    for word in personal:
        rest = rest.replace(word, "")
    if len(rest) < OTHER_THAN_PERSONAL:
        raise Invalid.field(field, _("Do not build the password on your name or e-mail address."))
    estimate = zxcvbn(password[:PASSWORD_CHARS_ESTIMATED], user_inputs=personal)
    if estimate["score"] >= MIN_PASSWORD_SCORE:
        return
    if any(m.get("dictionary_name") == "passwords" for m in estimate["sequence"]):
        raise Invalid.field(field, _("This is one of the most common passwords. Choose another."))
    raise Invalid.field(
        field,
        _(
            "This password is easy to guess (a repeat, a sequence, a keyboard pattern or "
            "common words). Make it longer or add words that do not belong together."
        ),
    )


def normalize_email(email: str) -> str:
    # Longer than any valid address (254) cannot match an account; cut it to fit the column.
    return email.strip().lower()[:254]


def check_email(email: str, field: str = "email") -> str:
    email = email.strip().lower()
    local, _at, domain = email.partition("@")
    if not local or "." not in domain or " " in email or len(email) > 254:
        raise Invalid.field(field, _("Enter a valid e-mail address."))
    return email


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> tuple[str, str]:
    token = secrets.token_urlsafe(32)
    return token, token_hash(token)


# --- users and sign-in ---------------------------------------------------------------------


async def get_user_by_email(db: AsyncSession, email: str) -> User | None:
    return await db.scalar(select(User).where(User.email == normalize_email(email)))


async def authenticate(
    db: AsyncSession,
    limits: RateLimits,
    email: str,
    password: str,
    ip: str,
    *,
    user_agent: str = "",
) -> User:
    """Check a sign-in, throttled per account and limited per address (:class:`RateLimited`).

    The attempt is counted (and, in the database store, committed) before the password is
    checked, so parallel attempts see each other and no more than the limits let through are
    ever checked; an attempt one limit refuses counts against neither; a right password takes
    its attempt back and clears the account's failures. Every checked sign-in is audited as a
    platform event (an account is not a firm's); the caller commits a failure's rows even
    though it answers with an error.
    """
    global _DUMMY_HASH
    email = normalize_email(email)
    account_attempt = await limits.throttle(
        db,
        LOGIN_BY_ACCOUNT,
        email,
        free=FREE_FAILURES_PER_ACCOUNT,
        first_wait=ACCOUNT_FIRST_WAIT,
        longest_wait=ACCOUNT_LONGEST_WAIT,
        memory=ACCOUNT_FAILURE_MEMORY,
    )
    try:
        ip_attempt = await limits.hit(db, LOGIN_BY_IP, ip, MAX_FAILURES_PER_IP, LOGIN_WINDOW)
    except RateLimited:
        await limits.take_back(db, account_attempt)
        raise
    await db.commit()

    user = await get_user_by_email(db, email)
    if user is None:
        if _DUMMY_HASH is None:
            _DUMMY_HASH = hash_password(secrets.token_hex(8))
        _policy.verify(_DUMMY_HASH, password)
    ok = user is not None and user.is_active and _policy.verify(user.password_hash, password)
    where = audit.Origin(ip=ip, user_agent=user_agent)
    if not ok or user is None:
        await audit.record(
            db,
            audit.LOGIN_FAILED,
            actor_user_id=user.id if user else None,
            actor_name=user.name if user else "",
            **where,
        )
        raise Invalid.field("password", _("The e-mail address or password is wrong."))
    await limits.forget(db, LOGIN_BY_ACCOUNT, email)
    await limits.take_back(db, ip_attempt)
    if user.email_verified_at is None:
        await audit.record(
            db, audit.LOGIN_FAILED, actor_user_id=user.id, actor_name=user.name, **where
        )
        raise Invalid.field(
            "email", _("Verify your e-mail address first: follow the link we sent you.")
        )
    await audit.record(
        db, audit.LOGIN_SUCCEEDED, actor_user_id=user.id, actor_name=user.name, **where
    )
    return user


async def start_session(
    db: AsyncSession, sessions: SignInSessions, user: User, ip: str, user_agent: str = ""
) -> str:
    """A new server-side session for ``user``; returns the cookie value. The session keeps
    the address's range and the browser's summary only."""
    token, hashed = new_token()
    await sessions.add(db, hashed, user.id, ip_range(ip), device_of(user_agent))
    return token


async def end_session(db: AsyncSession, sessions: SignInSessions, token: str) -> None:
    await sessions.remove(db, token_hash(token))


async def session_of(
    db: AsyncSession, sessions: SignInSessions, token: str
) -> tuple[User, SessionInfo] | None:
    """The signed-in account of a session cookie and its session, or None (unknown, idle,
    expired or deactivated)."""
    return await sessions.find(db, token_hash(token))


async def end_session_by_handle(
    db: AsyncSession, sessions: SignInSessions, user: User, handle: str
) -> None:
    """End one of the user's own sessions, named as the account page names it; another
    account's session is not found (:class:`NotFound`)."""
    for info in await sessions.active_of(db, user.id):
        if secrets.compare_digest(info.handle, handle):
            await sessions.remove(db, info.id)
            return
    raise NotFound("session")


async def issue_token(
    db: AsyncSession,
    user: User,
    purpose: TokenPurpose,
    tenant_id: uuid.UUID | None = None,
    *,
    password_hash: str | None = None,
    name: str | None = None,
    email: str | None = None,
) -> str:
    token, hashed = new_token()
    db.add(
        AuthToken(
            id=hashed,
            purpose=purpose,
            user_id=user.id,
            tenant_id=tenant_id,
            expires_at=clock.now() + TOKEN_LIFETIME[purpose],
            password_hash=password_hash,
            name=name,
            email=email,
        )
    )
    await db.flush()
    return token


async def use_token(db: AsyncSession, token: str, purpose: TokenPurpose) -> AuthToken:
    """Consume a single-use token; raises NotFound when unknown, used or expired."""
    row = await db.get(AuthToken, token_hash(token))
    if (
        row is None
        or row.purpose != purpose
        or row.used_at is not None
        or row.expires_at < clock.now()
    ):
        raise NotFound("token")
    row.used_at = clock.now()
    await db.flush()
    return row


async def peek_token(db: AsyncSession, token: str, purpose: TokenPurpose) -> AuthToken:
    row = await db.get(AuthToken, token_hash(token))
    if (
        row is None
        or row.purpose != purpose
        or row.used_at is not None
        or row.expires_at < clock.now()
    ):
        raise NotFound("token")
    return row


async def set_password(
    db: AsyncSession,
    sessions: SignInSessions,
    limits: RateLimits,
    user: User,
    password: str,
    field: str = "password",
) -> None:
    """Set a new password, sign the user out everywhere else and void older reset links.

    The account's failed sign-ins are forgotten: they guessed at the old password, and the
    owner who just proved the mailbox (or the old password) signs in at once.
    """
    check_password_rules(password, email=user.email, name=user.name, field=field)
    user.password_hash = hash_password(password)
    await limits.forget(db, LOGIN_BY_ACCOUNT, user.email)
    await sessions.remove_all_of(db, user.id)
    await db.execute(
        delete(AuthToken).where(
            AuthToken.user_id == user.id, AuthToken.purpose == TokenPurpose.RESET_PASSWORD
        )
    )
    await db.flush()


async def count_mail_request(
    db: AsyncSession, limits: RateLimits, purpose: TokenPurpose, email: str, ip: str
) -> None:
    """Count a request that e-mails a ``purpose`` link to ``email`` from client ``ip``.

    Raises :class:`~luotsi.platform.errors.RateLimited` when the address or the client has
    asked too often. Counted whether or not the address has an account, so the answer tells
    nothing about which accounts exist.
    """
    email = normalize_email(email)
    window = MAIL_REQUEST_WINDOW
    by_address = await limits.hit(
        db, f"{purpose}-address", email, MAIL_REQUESTS_PER_ADDRESS, window
    )
    try:
        await limits.hit(db, f"{purpose}-ip", ip, MAIL_REQUESTS_PER_IP, window)
    except RateLimited:  # refused: it counts against the address neither
        await limits.take_back(db, by_address)
        raise


async def reset_password(
    db: AsyncSession,
    sessions: SignInSessions,
    limits: RateLimits,
    token: str,
    password: str,
    confirm: str,
) -> User:
    """Set a new password through an e-mailed reset link, which it uses up.

    Raises :class:`NotFound` for an unknown, used or expired link and :class:`Invalid` for a
    refused password (the caller's error response rolls back, so the link still works).
    Following the link also proves the e-mail address.
    """
    row = await use_token(db, token, TokenPurpose.RESET_PASSWORD)
    if password != confirm:
        raise Invalid.field("confirm_password", _("The passwords do not match."))
    user = await get_user(db, row.user_id)
    await set_password(db, sessions, limits, user, password, "new_password")
    user.email_verified_at = user.email_verified_at or clock.now()
    return user


async def change_password(
    db: AsyncSession,
    sessions: SignInSessions,
    limits: RateLimits,
    user: User,
    current: str,
    new: str,
    confirm: str,
) -> None:
    """Change a signed-in user's password after checking the current one."""
    if not _policy.verify(user.password_hash, current):
        raise Invalid.field("current_password", _("The current password is wrong."))
    if new != confirm:
        raise Invalid.field("confirm_password", _("The passwords do not match."))
    await set_password(db, sessions, limits, user, new, "new_password")


async def get_user(db: AsyncSession, user_id: uuid.UUID) -> User:
    user = await db.get(User, user_id)
    if user is None:
        raise NotFound("user")
    return user


# --- e-mail change --------------------------------------------------------------------------


@dataclass(frozen=True)
class EmailChange:
    """A requested change: the new address and its confirmation link's token, or no token
    when the address already belongs to an account (its mailbox is told so instead)."""

    new_email: str
    token: str | None


async def request_email_change(db: AsyncSession, user: User, new_email: str) -> EmailChange:
    """Start moving ``user`` to ``new_email``: nothing changes until the link e-mailed to the
    new address is followed (:func:`confirm_email_change`).

    Raises :class:`Invalid` for a malformed address or the user's own. An address that has an
    account gets no link; the caller answers alike either way and tells only that mailbox, as
    signup does, so the page never says whether an address is registered.
    """
    address = check_email(new_email, "new_email")
    if address == user.email:
        raise Invalid.field("new_email", _("This is already your e-mail address."))
    if await get_user_by_email(db, address) is not None:
        return EmailChange(address, None)
    await db.execute(
        delete(AuthToken).where(
            AuthToken.user_id == user.id, AuthToken.purpose == TokenPurpose.CHANGE_EMAIL
        )
    )
    token = await issue_token(db, user, TokenPurpose.CHANGE_EMAIL, email=address)
    return EmailChange(address, token)


class EmailTaken(Exception):
    """The new address got an account between the request and the confirmation."""


async def confirm_email_change(
    db: AsyncSession, token: str, origin: audit.Origin | None = None
) -> tuple[User, str]:
    """Follow an e-mail change link: the account's address becomes the new one (proven by
    the link); returns the account and its old address. The link works once (:class:`NotFound`
    for an unknown, used or expired one); :class:`EmailTaken` when the address has an account
    by now (the caller's error response rolls back, so nothing is used up). Audited as the
    account's event (``account.email_changed``; the addresses are not in the log)."""
    row = await use_token(db, token, TokenPurpose.CHANGE_EMAIL)
    user = await get_user(db, row.user_id)
    if not row.email or not user.is_active:
        raise NotFound("token")
    if await get_user_by_email(db, row.email) is not None:
        raise EmailTaken(row.email)
    old = user.email
    user.email = row.email
    user.email_verified_at = clock.now()
    # Reset links went to the old address: they no longer lead to this account.
    await db.execute(
        delete(AuthToken).where(
            AuthToken.user_id == user.id,
            AuthToken.purpose.in_([TokenPurpose.RESET_PASSWORD, TokenPurpose.CHANGE_EMAIL]),
            AuthToken.id != row.id,
        )
    )
    await audit.record(
        db,
        audit.EMAIL_CHANGED,
        actor_user_id=user.id,
        actor_name=user.name,
        **(origin or audit.Origin(ip="", user_agent="")),
    )
    await db.flush()
    return user, old
