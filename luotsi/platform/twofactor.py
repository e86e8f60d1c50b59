"""Two-factor authentication: a TOTP secret per account, one-time recovery codes, and the firm
setting that requires it of the staff.

A secret is stored encrypted (AES-GCM, :mod:`luotsi.platform.crypto`) with a key derived from
the master keys for the platform itself, not for a firm (:data:`PLATFORM_SCOPE`), and bound to
its account's row: the database alone does not let anyone compute codes. Each code is accepted
once: the last time step used is kept, and a code of that step or an earlier one is refused
even inside its 30 seconds. Recovery codes are random (80 bits), shown once and kept as SHA-256
hashes, each used once. Every check of a code is rate-limited per account and per client.

Times come from the app clock and are passed to pyotp explicitly, so tests move them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyotp
from sqlalchemy import BigInteger, ForeignKey, LargeBinary, String, delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from luotsi.platform import audit, clock, permissions
from luotsi.platform.crypto import Binding, ContentCipher, MasterKeys
from luotsi.platform.db import Base, unscoped_memberships_of_user, unscoped_session
from luotsi.platform.errors import Forbidden, Invalid, NotFound, RateLimited
from luotsi.platform.i18n import gettext as _
from luotsi.platform.identity import User, password_matches
from luotsi.platform.members import record_member_action
from luotsi.platform.ratelimit import RateLimits
from luotsi.platform.tenancy import (
    STAFF_ROLES,
    TENANT_OBJECT,
    Membership,
    Tenant,
    TenantStatus,
    active_member,
)

ISSUER = "Luotsi"
STEP_SECONDS = 30  # what every authenticator app uses
# A code of the step before or after the current one is accepted too (a clock a little off).
STEPS_ACCEPTED = (-1, 0, 1)
RECOVERY_CODES = 10
RECOVERY_CODE_BYTES = 10  # 80 bits, 16 base32 characters
# Wrong codes: per account (a guesser who knows the password) and per client.
CODES_PER_ACCOUNT = 5
CODES_PER_IP = 50
CODE_WINDOW = timedelta(minutes=15)
CODE_BY_ACCOUNT = "2fa-account"
CODE_BY_IP = "2fa-ip"
# How long the second step of a sign-in may take after the password was right.
PENDING_LIFETIME = timedelta(minutes=5)
# The key scope of secrets that belong to no firm: derived from the master keys like a firm's.
PLATFORM_SCOPE = uuid.UUID(int=0)
TABLE = "two_factor"
SECRET_FIELD = "secret"  # noqa: S105 - a column name, not a secret


class TwoFactor(Base):
    """An account's TOTP secret. ``enabled_at`` is empty while enrolment waits for a code."""

    __tablename__ = "two_factor"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    secret: Mapped[bytes] = mapped_column(LargeBinary)  # AES-GCM, see the module's docstring
    key_version: Mapped[int]
    enabled_at: Mapped[datetime | None]
    last_step: Mapped[int | None] = mapped_column(BigInteger)  # the last time step used
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class RecoveryCode(Base):
    """One single-use recovery code of an account; only its hash is kept."""

    __tablename__ = "recovery_codes"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    used_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


# --- the key -------------------------------------------------------------------------------

_cipher: ContentCipher | None = None


def configure_two_factor_keys(keys: MasterKeys) -> None:
    """The master keys that encrypt TOTP secrets (the app sets them at its start)."""
    global _cipher
    _cipher = ContentCipher(keys)


def _the_cipher() -> ContentCipher:
    if _cipher is None:
        raise RuntimeError("two-factor keys are not configured")
    return _cipher


def _binding(user_id: uuid.UUID) -> Binding:
    return Binding(PLATFORM_SCOPE, TABLE, user_id, SECRET_FIELD)


def _secret_of(row: TwoFactor) -> str:
    return _the_cipher().decrypt(row.secret, _binding(row.user_id))


def _seal(row: TwoFactor, secret: str) -> None:
    cipher = _the_cipher()
    row.secret = cipher.encrypt(secret, _binding(row.user_id))
    row.key_version = cipher.current_version


# --- codes ---------------------------------------------------------------------------------


def _step(at: datetime) -> int:
    return int(at.timestamp()) // STEP_SECONDS


def _digits(code: str) -> str:
    return "".join(code.split())


def _matching_step(secret: str, code: str, at: datetime, after: int | None) -> int | None:
    """The time step near ``at`` whose code ``code`` is, if later than ``after``."""
    code = _digits(code)
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, interval=STEP_SECONDS)
    now = _step(at)
    for offset in STEPS_ACCEPTED:
        step = now + offset
        if (after is None or step > after) and hmac.compare_digest(
            totp.at(step * STEP_SECONDS), code
        ):
            return step
    return None


async def _use_totp(db: AsyncSession, row: TwoFactor, code: str) -> bool:
    """Accept ``code`` once: the step is recorded by a conditional update, so the same code
    sent twice at once passes once."""
    step = _matching_step(_secret_of(row), code, clock.now(), row.last_step)
    if step is None:
        return False
    result = await db.execute(
        update(TwoFactor)
        .where(
            TwoFactor.user_id == row.user_id,
            (TwoFactor.last_step.is_(None)) | (TwoFactor.last_step < step),
        )
        .values(last_step=step)
        .execution_options(synchronize_session=False)
    )
    if not getattr(result, "rowcount", 0):
        return False
    row.last_step = step
    return True


def _normalised_recovery_code(code: str) -> str:
    return "".join(c for c in code.upper() if c.isalnum())


def _recovery_hash(code: str) -> str:
    return hashlib.sha256(_normalised_recovery_code(code).encode()).hexdigest()


def _new_recovery_code() -> str:
    raw = base64.b32encode(secrets.token_bytes(RECOVERY_CODE_BYTES)).decode("ascii")
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


async def _new_recovery_codes(db: AsyncSession, user_id: uuid.UUID) -> list[str]:
    await db.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODES)]
    db.add_all(RecoveryCode(user_id=user_id, code_hash=_recovery_hash(c)) for c in codes)
    await db.flush()
    return codes


async def _use_recovery_code(db: AsyncSession, user_id: uuid.UUID, code: str) -> bool:
    if len(_normalised_recovery_code(code)) != RECOVERY_CODE_BYTES * 8 // 5:
        return False
    result = await db.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user_id,
            RecoveryCode.code_hash == _recovery_hash(code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=clock.now())
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


# --- state ---------------------------------------------------------------------------------


async def _row(db: AsyncSession, user_id: uuid.UUID) -> TwoFactor | None:
    return await db.scalar(select(TwoFactor).where(TwoFactor.user_id == user_id))


async def is_enabled(db: AsyncSession, user_id: uuid.UUID) -> bool:
    """Whether the account signs in with a second factor."""
    return bool(
        await db.scalar(
            select(exists().where(TwoFactor.user_id == user_id, TwoFactor.enabled_at.is_not(None)))
        )
    )


@dataclass
class Status:
    enabled: bool
    enabled_at: datetime | None
    recovery_codes_left: int
    required_by: list[str]  # names of the firms that require it of this staff member


async def status_of(db: AsyncSession, user: User) -> Status:
    """The account's two-factor state, for its page."""
    row = await _row(db, user.id)
    enabled = row is not None and row.enabled_at is not None
    left = 0
    if enabled:
        left = len(
            (
                await db.scalars(
                    select(RecoveryCode.id).where(
                        RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
                    )
                )
            ).all()
        )
    return Status(
        enabled=enabled,
        enabled_at=row.enabled_at if row is not None else None,
        recovery_codes_left=left,
        required_by=await firms_requiring(db, user.id),
    )


async def firms_requiring(db: AsyncSession, user_id: uuid.UUID) -> list[str]:
    """The firms (names) that require two-factor authentication of this person as staff.

    Reads the person's own memberships across firms (on PostgreSQL the ``own_rows`` policy,
    with the user named on the session)."""
    rows = await db.scalars(
        unscoped_memberships_of_user(
            select(Tenant.name)
            .join(Membership, Membership.tenant_id == Tenant.id)
            .where(
                Membership.user_id == user_id,
                active_member(),
                Membership.role.in_(STAFF_ROLES),
                Tenant.status == TenantStatus.ACTIVE,
                Tenant.two_factor_required.is_(True),
            )
            .order_by(Tenant.name),
            user_id,
        )
    )
    return list(rows)


async def must_enrol_at_sign_in(db: AsyncSession, user_id: uuid.UUID) -> bool:
    """Whether a person who just signed in must turn two-factor on before working: staff of a
    firm that requires it, without it."""
    return not await is_enabled(db, user_id) and bool(await firms_requiring(db, user_id))


def must_enrol(tenant: Tenant, membership: Membership, enabled: bool) -> bool:
    """Whether this member may not work in the firm before enrolling: staff of a firm that
    requires two-factor authentication, without it."""
    return tenant.two_factor_required and membership.is_staff and not enabled


# --- enrolment -----------------------------------------------------------------------------


async def start_enrolment(db: AsyncSession, user: User) -> str:
    """A fresh secret for the account, waiting for a first code; returns it (base32)."""
    row = await _row(db, user.id)
    if row is not None and row.enabled_at is not None:
        raise Invalid.field("code", _("Two-factor authentication is already on."))
    secret = pyotp.random_base32()
    if row is None:
        row = TwoFactor(user_id=user.id)
        db.add(row)
    row.last_step = None
    _seal(row, secret)
    await db.flush()
    return secret


async def pending_secret(db: AsyncSession, user: User) -> str:
    """The secret of an enrolment that waits for its first code; :class:`NotFound` if none."""
    row = await _row(db, user.id)
    if row is None or row.enabled_at is not None:
        raise NotFound("enrolment")
    return _secret_of(row)


def provisioning_uri(secret: str, email: str) -> str:
    """The ``otpauth://`` address an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret, interval=STEP_SECONDS).provisioning_uri(
        name=email, issuer_name=ISSUER
    )


async def confirm_enrolment(
    db: AsyncSession,
    limits: RateLimits,
    user: User,
    code: str,
    origin: audit.Origin,
) -> list[str]:
    """Turn two-factor on with the first right code; returns the recovery codes (shown once)."""
    row = await _row(db, user.id)
    if row is None or row.enabled_at is not None:
        raise NotFound("enrolment")
    await _count_attempt(db, limits, user, origin["ip"])
    if not await _use_totp(db, row, code):
        raise Invalid.field("code", _("The code is not right. Enter the code the app shows now."))
    await _forget_attempts(db, limits, user)
    row.enabled_at = clock.now()
    codes = await _new_recovery_codes(db, user.id)
    await _audit(db, user, audit.TWO_FACTOR_ENABLED, origin)
    return codes


# --- checks --------------------------------------------------------------------------------


async def _count_attempt(db: AsyncSession, limits: RateLimits, user: User, ip: str) -> None:
    """Count one check of a code; committed before the check, as a sign-in's attempt is."""
    by_account = await limits.hit(db, CODE_BY_ACCOUNT, str(user.id), CODES_PER_ACCOUNT, CODE_WINDOW)
    try:
        await limits.hit(db, CODE_BY_IP, ip, CODES_PER_IP, CODE_WINDOW)
    except RateLimited:
        await limits.take_back(db, by_account)
        raise
    await db.commit()


async def _forget_attempts(db: AsyncSession, limits: RateLimits, user: User) -> None:
    await limits.forget(db, CODE_BY_ACCOUNT, str(user.id))


async def confirm_identity(db: AsyncSession, user: User, secret: str) -> bool:
    """Whether ``secret`` is the account's password or an unused code of its authenticator
    (which it uses up). For re-authentication before sensitive actions; the caller limits the
    attempts (:func:`check_identity` does)."""
    if password_matches(user, secret):
        return True
    row = await _row(db, user.id)
    return row is not None and row.enabled_at is not None and await _use_totp(db, row, secret)


async def check_identity(
    db: AsyncSession, limits: RateLimits, user: User, secret: str, origin: audit.Origin
) -> None:
    """:func:`confirm_identity`, rate-limited as every code check; :class:`Invalid` if wrong."""
    await _count_attempt(db, limits, user, origin["ip"])
    if not await confirm_identity(db, user, secret):
        raise Invalid.field(
            "secret", _("Enter your current password or a code from your authenticator app.")
        )
    await _forget_attempts(db, limits, user)


async def verify_second_step(
    db: AsyncSession, limits: RateLimits, user: User, code: str, origin: audit.Origin
) -> None:
    """The second step of a sign-in: a code of the authenticator or an unused recovery code.

    Raises :class:`RateLimited` after too many wrong codes for the account or the client, and
    :class:`Invalid` for a wrong, used or replayed code. The attempt is committed before the
    check; the caller commits after a failure too (an error response rolls back).
    """
    row = await _row(db, user.id)
    if row is None or row.enabled_at is None:
        raise NotFound("two-factor")
    await _count_attempt(db, limits, user, origin["ip"])
    if await _use_totp(db, row, code):
        await _forget_attempts(db, limits, user)
        return
    if await _use_recovery_code(db, user.id, code):
        await _forget_attempts(db, limits, user)
        await _audit(db, user, audit.TWO_FACTOR_RECOVERY_USED, origin)
        return
    raise Invalid.field(
        "code", _("The code is not right, or it has been used already. Enter a new code.")
    )


async def regenerate_recovery_codes(
    db: AsyncSession, limits: RateLimits, user: User, secret: str, origin: audit.Origin
) -> list[str]:
    """New recovery codes (the old ones stop working), after the password or a code."""
    if not await is_enabled(db, user.id):
        raise NotFound("two-factor")
    await check_identity(db, limits, user, secret, origin)
    codes = await _new_recovery_codes(db, user.id)
    await _audit(db, user, audit.TWO_FACTOR_CODES_RENEWED, origin)
    return codes


async def disable(
    db: AsyncSession, limits: RateLimits, user: User, secret: str, origin: audit.Origin
) -> None:
    """Turn two-factor off, after the password or a code; refused while a firm where the
    person is staff requires it."""
    if not await is_enabled(db, user.id):
        raise NotFound("two-factor")
    required = await firms_requiring(db, user.id)
    if required:
        raise Invalid.field(
            "secret",
            _("%(firms)s requires two-factor authentication of its staff.")
            % {"firms": ", ".join(required)},
        )
    await check_identity(db, limits, user, secret, origin)
    await db.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    await db.execute(delete(TwoFactor).where(TwoFactor.user_id == user.id))
    await _audit(db, user, audit.TWO_FACTOR_DISABLED, origin)


async def _audit(db: AsyncSession, user: User, action: str, origin: audit.Origin) -> None:
    # An account's event, not a firm's (as its sign-ins are).
    await audit.record(db, action, actor_user_id=user.id, actor_name=user.name, **origin)


# --- the second step of a sign-in ----------------------------------------------------------


def _pending_signature(secret_key: str, payload: str) -> str:
    message = f"two-factor pending\n{payload}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


def pending_token(secret_key: str, user_id: uuid.UUID) -> str:
    """A signed note that ``user_id``'s password was right just now (the second step's
    cookie): ``<user>.<unix time>.<signature>``. It signs nobody in by itself."""
    payload = f"{user_id.hex}.{int(clock.now().timestamp())}"
    return f"{payload}.{_pending_signature(secret_key, payload)}"


def user_of_pending_token(secret_key: str, token: str) -> uuid.UUID | None:
    """The account a genuine, unexpired token names, or None."""
    payload, _dot, signature = token.rpartition(".")
    user_hex, _dot, stamp = payload.partition(".")
    if not hmac.compare_digest(signature, _pending_signature(secret_key, payload)):
        return None
    try:
        user_id = uuid.UUID(hex=user_hex)
        issued = datetime.fromtimestamp(int(stamp), UTC)
    except (ValueError, OverflowError):
        return None
    if not issued <= clock.now() < issued + PENDING_LIFETIME:
        return None
    return user_id


# --- the firm's setting --------------------------------------------------------------------


async def set_required_for_staff(
    db: AsyncSession,
    actor: Membership,
    tenant: Tenant,
    required: bool,
    origin: audit.Origin | None = None,
) -> None:
    """Require two-factor authentication of the firm's staff, or stop requiring it (the
    owner). The owner turns it on only with it on for themselves, so nobody locks the office
    out by surprise."""
    permissions.require(permissions.can_manage_sign_in_security(actor), "sign-in security")
    if tenant.id != actor.tenant_id:
        raise Forbidden("sign-in security")
    if required == tenant.two_factor_required:
        return
    if required and not await is_enabled(db, actor.user_id):
        raise Invalid.field(
            "two_factor_required",
            _("Turn on two-factor authentication for your own account first."),
        )
    tenant.two_factor_required = required
    await db.flush()
    await record_member_action(
        db,
        actor,
        audit.SETTINGS_CHANGED,
        object_type=TENANT_OBJECT,
        object_id=tenant.id,
        origin=origin,
    )


# --- key rotation --------------------------------------------------------------------------


async def rotate_two_factor_secrets(
    maker: async_sessionmaker[AsyncSession], keys: MasterKeys
) -> int:
    """Re-encrypt every TOTP secret with the current master key version; returns how many.
    Part of ``luotsi keys rotate``: a global table, in one unscoped session."""
    cipher = ContentCipher(keys)
    done = 0
    async with unscoped_session(maker) as db:
        rows = await db.scalars(
            select(TwoFactor).where(TwoFactor.key_version != cipher.current_version)
        )
        for row in rows:
            row.secret = cipher.reencrypt(row.secret, _binding(row.user_id))
            row.key_version = cipher.current_version
            done += 1
        await db.commit()
    return done
