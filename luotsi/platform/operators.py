"""Platform operators: a flag on a global user. They manage firms and see no tenant content."""

from __future__ import annotations

from luotsi.platform import clock
from luotsi.platform.db import make_engine, make_sessionmaker, unscoped_session
from luotsi.platform.errors import Invalid
from luotsi.platform.identity import (
    User,
    check_email,
    check_password_rules,
    configure_password_hashing,
    get_user_by_email,
    hash_password,
)
from luotsi.platform.settings import Settings


async def create_operator(settings: Settings, email: str, name: str, password: str) -> User:
    """Create an operator account, or flag an existing account as one."""
    configure_password_hashing(settings.argon2_time_cost, settings.argon2_memory_kib)
    engine = make_engine(settings.runtime_database_url, pgbouncer=settings.pgbouncer)
    try:
        async with unscoped_session(make_sessionmaker(engine)) as db, db.begin():
            try:
                email = check_email(email)
                user = await get_user_by_email(db, email)
                if user is None or password:
                    check_password_rules(password, email=email, name=name)
            except Invalid as exc:
                raise ValueError("; ".join(exc.errors.values())) from None
            if user is None:
                user = User(email=email, name=name.strip() or email, email_verified_at=clock.now())
                db.add(user)
            if password:
                user.password_hash = hash_password(password)
            user.is_operator = True
            await db.flush()
            return user
    finally:
        await engine.dispose()
