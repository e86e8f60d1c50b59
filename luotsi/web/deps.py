"""Type aliases for what handlers receive, so every signature says it the same way."""

from __future__ import annotations

from typing import Any, TypeAlias

from litestar import Request
from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.platform.storage import FileStore
from luotsi.web.public import PublicFirm
from luotsi.web.workspace import Workspace

Req: TypeAlias = Request[Any, Any, Any]
DB: TypeAlias = NamedDependency[AsyncSession]  # the request's session (advanced-alchemy)
WS: TypeAlias = NamedDependency[Workspace]  # the firm and membership, from the /t/ router
FIRM: TypeAlias = NamedDependency[PublicFirm]  # the firm of a public page, from the /f/ router
FILES: TypeAlias = NamedDependency[FileStore]  # where files are kept (the app's one store)
