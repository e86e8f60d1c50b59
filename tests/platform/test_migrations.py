"""Data migrations: what they do to rows written before them (on a file database, migrated
step by step as an upgrade in production would be)."""

from __future__ import annotations

import uuid
from pathlib import Path

from sqlalchemy import text

from luotsi.platform import clock
from luotsi.platform.db import make_engine
from luotsi.platform.migrate import upgrade
from luotsi.platform.settings import load_settings
from tests.backends import settings_env


async def test_migration_0008_writes_firms_business_ids_with_the_hyphen(tmp_path: Path) -> None:
    settings = load_settings(settings_env(tmp_path, f"sqlite:///{tmp_path / 'm.db'}"), env_file="")
    await upgrade(settings, "0007")
    engine = make_engine(settings.owner_database_url)
    try:
        async with engine.begin() as conn:
            for slug, business_id in (("a", "20774740"), ("b", "0737546-2"), ("c", "x")):
                await conn.execute(
                    text(
                        "insert into tenants (id, slug, name, business_id, status,"
                        " content_retention_months, created_at)"
                        " values (:id, :slug, 'Firm Oy', :bid, 'active', 24, :now)"
                    ),
                    {"id": uuid.uuid4().hex, "slug": slug, "bid": business_id, "now": clock.now()},
                )
        await upgrade(settings)
        async with engine.connect() as conn:
            rows = await conn.execute(text("select slug, business_id from tenants order by slug"))
            stored = dict(rows.tuples().all())
    finally:
        await engine.dispose()
    # A value that is not a business ID at all is left for a person to look at.
    assert stored == {"a": "2077474-0", "b": "0737546-2", "c": "x"}


async def test_migration_0011_clears_the_none_an_empty_form_published(tmp_path: Path) -> None:
    settings = load_settings(settings_env(tmp_path, f"sqlite:///{tmp_path / 'm.db'}"), env_file="")
    await upgrade(settings, "0010")
    engine = make_engine(settings.owner_database_url)
    try:
        async with engine.begin() as conn:
            for slug, description, email in (
                ("a", "None", "None"),
                ("b", "Työnohjausta Hyvinkäällä. None of it is therapy.", "info@b.example"),
            ):
                tenant_id = uuid.uuid4().hex
                await conn.execute(
                    text(
                        "insert into tenants (id, slug, name, business_id, status,"
                        " content_retention_months, created_at)"
                        " values (:id, :slug, 'Firm Oy', '0737546-2', 'active', 24, :now)"
                    ),
                    {"id": tenant_id, "slug": slug, "now": clock.now()},
                )
                await conn.execute(
                    text(
                        "insert into firm_profiles (tenant_id, id, description_fi, description_sv,"
                        " description_en, public_email, public_phone, directory_enabled,"
                        " updated_at) values (:t, :id, :d, :d, 'None', :e, '', 1, :now)"
                    ),
                    {
                        "t": tenant_id,
                        "id": uuid.uuid4().hex,
                        "d": description,
                        "e": email,
                        "now": clock.now(),
                    },
                )
        await upgrade(settings)
        async with engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "select t.slug, p.description_fi, p.description_sv, p.description_en,"
                    " p.public_email from firm_profiles p join tenants t on t.id = p.tenant_id"
                    " order by t.slug"
                )
            )
            stored = {row[0]: tuple(row[1:]) for row in rows}
    finally:
        await engine.dispose()
    text_b = "Työnohjausta Hyvinkäällä. None of it is therapy."
    assert stored == {"a": ("", "", "", ""), "b": (text_b, text_b, "", "info@b.example")}
