"""``luotsi demo``: a fictional demo firm with invented people (never real ones)."""

from __future__ import annotations

from sqlalchemy import select

from luotsi.platform.db import (
    make_engine,
    make_sessionmaker,
    scope_to_tenant,
    unscoped_session,
    utcnow,
)
from luotsi.platform.identity import User, configure_password_hashing, hash_password
from luotsi.platform.settings import Settings
from luotsi.platform.tenancy import Membership, Role, Tenant, TenantStatus

DEMO_SLUG = "demo"
DEMO_PASSWORD = "demo-salasana"  # noqa: S105 - published demo credentials, demo data only
DEMO_PEOPLE = [
    ("omistaja@demo.luotsi.localhost", "Outi Omistaja", Role.OWNER),
    ("toimisto@demo.luotsi.localhost", "Tiina Toimisto", Role.ADMIN),
    ("aino.ohjaaja@demo.luotsi.localhost", "Aino Ohjaaja", Role.SUPERVISOR),
    ("ville.ohjaaja@demo.luotsi.localhost", "Ville Ohjaaja", Role.SUPERVISOR),
]


async def load_demo(settings: Settings) -> bool:
    """Create the demo firm unless it exists; returns whether anything was created."""
    configure_password_hashing(settings.argon2_time_cost, settings.argon2_memory_kib)
    engine = make_engine(settings.runtime_database_url)
    try:
        async with unscoped_session(make_sessionmaker(engine)) as db, db.begin():
            if await db.scalar(select(Tenant).where(Tenant.slug == DEMO_SLUG)):
                return False
            tenant = Tenant(
                slug=DEMO_SLUG,
                name="Demo Työnohjaus Oy",
                business_id="1234567-1",
                status=TenantStatus.ACTIVE,
            )
            db.add(tenant)
            await db.flush()
            await scope_to_tenant(db, tenant.id)
            password_hash = hash_password(DEMO_PASSWORD)
            for email, name, role in DEMO_PEOPLE:
                user = await db.scalar(select(User).where(User.email == email))
                if user is None:
                    user = User(
                        email=email,
                        name=name,
                        password_hash=password_hash,
                        email_verified_at=utcnow(),
                    )
                    db.add(user)
                    await db.flush()
                db.add(Membership(user_id=user.id, role=role))
            return True
    finally:
        await engine.dispose()
