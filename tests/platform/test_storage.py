"""The file store and the database transaction: a committed row never names a missing file,
and a file no row names is deleted, on the local disk and on an S3-compatible server."""

from __future__ import annotations

import obstore
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.billing import settings as billing_settings
from luotsi.billing.profile import get_profile
from luotsi.platform import storage
from luotsi.platform.errors import NotFound
from luotsi.platform.storage import FileStore
from luotsi.platform.tenancy import Tenant
from tests.conftest import both_stores
from tests.factories import Firms, portrait

pytestmark = both_stores


def logos_of(files: FileStore, tenant: Tenant) -> set[str]:
    """The keys of the firm's logo files in the store."""
    listed = obstore.list(files.store, prefix=f"{tenant.id}/{storage.LOGOS}").collect()
    return {item["path"] for item in listed}


async def test_a_file_written_in_a_transaction_that_rolls_back_is_deleted(
    db: AsyncSession, files: FileStore, firms: Firms
) -> None:
    await billing_settings.set_logo(db, files, firms.a.owner, portrait())
    assert len(logos_of(files, firms.a.tenant)) == 1  # written before the row is committed
    await db.rollback()
    assert logos_of(files, firms.a.tenant) == set()
    assert not (await get_profile(db)).has_logo


async def test_a_replaced_file_is_deleted_once_the_change_is_committed(
    db: AsyncSession, files: FileStore, firms: Firms
) -> None:
    first = (await billing_settings.set_logo(db, files, firms.a.owner, portrait())).logo_key
    await db.commit()
    second = (await billing_settings.set_logo(db, files, firms.a.owner, portrait())).logo_key
    assert logos_of(files, firms.a.tenant) == {first, second}  # the old row may still win
    await db.commit()
    assert logos_of(files, firms.a.tenant) == {second}
    await billing_settings.remove_logo(db, files, firms.a.owner)
    await db.commit()
    assert logos_of(files, firms.a.tenant) == set()


async def test_a_removal_that_rolls_back_keeps_the_file(
    db: AsyncSession, files: FileStore, firms: Firms
) -> None:
    key = (await billing_settings.set_logo(db, files, firms.a.owner, portrait())).logo_key
    await db.commit()
    await billing_settings.remove_logo(db, files, firms.a.owner)
    await db.rollback()
    assert logos_of(files, firms.a.tenant) == {key}
    assert await billing_settings.logo_png(db, files, firms.a.owner)


async def test_a_key_of_another_firm_is_not_found(
    db: AsyncSession, files: FileStore, firms: Firms
) -> None:
    key = (await billing_settings.set_logo(db, files, firms.a.owner, portrait())).logo_key
    await db.commit()
    assert key is not None and key.startswith(f"{firms.a.tenant.id}/")
    assert await files.get(firms.a.tenant.id, key)
    with pytest.raises(NotFound):
        await files.get(firms.b.tenant.id, key)
    with pytest.raises(NotFound):
        await files.get(firms.a.tenant.id, f"{firms.a.tenant.id}/logos/missing.png")
