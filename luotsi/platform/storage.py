"""Stored files (staff photos, the firm's invoice logo, kept agreement PDFs): one interface, on
the local disk or in an S3-compatible bucket (``LUOTSI_STORAGE_URL``), through obstore.

The database keeps a file's key, never its bytes. A key starts with the firm's id
(``<tenant id>/photos/<random>.jpg``) and is made here, never from a request: a file is reached
only through a row the firm's scoped session found, and :meth:`FileStore.get` refuses a key of
another firm as well.

Writes and the database transaction: a new file goes under a new key *before* the row that
names it is committed, so a committed row never names a missing file. If the transaction rolls
back instead, the file written in it is deleted; a file a row stops naming (a replaced or
removed photo) is deleted once the transaction has committed. Both run in the session's
``after_commit`` and ``after_rollback`` events; a deletion that fails is logged and leaves an
orphan (no row names it, nobody can reach it), as does a process killed between the write and
the commit. No sweep removes such orphans today (docs/decisions.md, "Stored files").

obstore's blocking functions run in a thread: its ``*_async`` ones now and then abort the
interpreter as it exits (a test run would fail after passing), the blocking ones did not.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import obstore
import structlog
from obstore.store import LocalStore, S3Store
from sqlalchemy import event
from sqlalchemy.orm import Session
from sqlalchemy.util import await_only

from luotsi.platform.errors import NotFound

if TYPE_CHECKING:
    from obstore.store import ObjectStore
    from sqlalchemy.ext.asyncio import AsyncSession

    from luotsi.platform.settings import Settings

log = structlog.get_logger(__name__)

# Kinds of file, the middle part of a key.
PHOTOS = "photos"
LOGOS = "logos"
AGREEMENTS = "agreements"

# session.info keys: (store, key) pairs deleted once the transaction commits or rolls back.
_DELETE_AFTER_COMMIT = "luotsi_files_delete_after_commit"
_WRITTEN = "luotsi_files_written"


class FileStore:
    """Where the app's files are kept; ``where`` names it in logs (no credentials).

    A plain class, not a dataclass: Litestar would check a dependency's dataclass fields.
    """

    def __init__(self, store: ObjectStore, where: str) -> None:
        self.store = store
        self.where = where

    def __repr__(self) -> str:
        return f"FileStore({self.where!r})"

    async def put(
        self, db: AsyncSession, tenant_id: uuid.UUID, kind: str, data: bytes, suffix: str
    ) -> str:
        """Write ``data`` under a new key of the firm and return the key.

        Call it before the row naming the key is flushed; should ``db``'s transaction roll
        back, the file is deleted again.
        """
        key = new_key(tenant_id, kind, suffix)
        await asyncio.to_thread(obstore.put, self.store, key, data)
        db.info.setdefault(_WRITTEN, []).append((self, key))
        return key

    async def get(self, tenant_id: uuid.UUID, key: str) -> bytes:
        """The bytes of the firm's file ``key``; :class:`NotFound` for a missing file and for
        a key of another firm."""
        if not key.startswith(f"{tenant_id}/"):
            raise NotFound("file")
        try:
            return await asyncio.to_thread(self._read, key)
        except FileNotFoundError:
            raise NotFound("file") from None

    def _read(self, key: str) -> bytes:
        return bytes(obstore.get(self.store, key).bytes())

    def delete_after_commit(self, db: AsyncSession, key: str | None) -> None:
        """Delete ``key`` once ``db``'s transaction has committed (a row no longer names it)."""
        if key:
            db.info.setdefault(_DELETE_AFTER_COMMIT, []).append((self, key))

    async def delete(self, key: str) -> None:
        """Delete ``key`` now; a missing file is no error."""
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread(obstore.delete, self.store, key)


def new_key(tenant_id: uuid.UUID, kind: str, suffix: str) -> str:
    """A key never used before, in the firm's part: ``<tenant id>/<kind>/<hex><suffix>``."""
    return f"{tenant_id}/{kind}/{uuid.uuid4().hex}{suffix}"


def make_file_store(settings: Settings) -> FileStore:
    """The store ``settings`` name: ``s3://bucket/prefix``, ``file:///path`` or, unset, the
    folder ``files`` in the var folder."""
    url = settings.storage_url
    if url.startswith("s3://"):
        parts = urlsplit(url)
        options: dict[str, str] = {"region": settings.s3_region}
        if settings.s3_endpoint:
            options["endpoint"] = settings.s3_endpoint
        if settings.s3_access_key_id:
            options["access_key_id"] = settings.s3_access_key_id
            options["secret_access_key"] = settings.s3_secret_access_key
        store: ObjectStore = S3Store(
            parts.netloc,
            prefix=parts.path.strip("/") or None,
            # Path-style requests (bucket in the path) work on every S3-compatible server.
            virtual_hosted_style_request=False,
            client_options={"allow_http": settings.s3_endpoint.startswith("http://")},
            **options,  # type: ignore[arg-type]
        )
        return FileStore(store, url)
    folder = Path(url.removeprefix("file://")) if url else settings.var_dir / "files"
    folder.mkdir(parents=True, exist_ok=True)
    return FileStore(LocalStore(folder.resolve()), str(folder))


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    session.info.pop(_WRITTEN, None)
    _delete(session.info.pop(_DELETE_AFTER_COMMIT, []))


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_DELETE_AFTER_COMMIT, None)
    _delete(session.info.pop(_WRITTEN, []))


def _delete(files: list[tuple[FileStore, str]]) -> None:
    """Delete files from a session event: the app's sessions are asynchronous, so the event
    runs inside SQLAlchemy's greenlet and may await the store there."""
    for store, key in files:
        try:
            await_only(store.delete(key))
        except Exception:
            # The transaction's outcome stands; the file is an orphan nobody can reach.
            log.warning("file_not_deleted", store=store.where, key=key, exc_info=True)
