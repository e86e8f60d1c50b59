"""Search boxes: the words of a search, and the case-insensitive "contains" every list uses.

``lower(column) LIKE '%word%'`` everywhere, one way: on PostgreSQL a trigram index on
``(tenant_id, lower(column))`` (:func:`trigram_index`, pg_trgm with btree_gin) answers it within
the firm's part of the index; SQLite scans the firm's rows, with a ``lower()`` that folds every
letter (:mod:`luotsi.platform.db`), not only ASCII.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Index, column, func

SEARCH_WORDS = 5  # the words of a search box that narrow a list; any more are ignored


def search_words(text: str) -> list[str]:
    """The words of a search box, lower-cased: each must match for a row to be found."""
    return text.lower().split()[:SEARCH_WORDS]


def like_pattern(word: str) -> str:
    """``word`` anywhere, as a LIKE pattern with ``!`` as the escape character."""
    return f"%{word.replace('!', '!!').replace('%', '!%').replace('_', '!_')}%"


def contains(column: ColumnElement[Any] | Any, word: str) -> ColumnElement[bool]:
    """``column`` has the lower-cased ``word`` anywhere, whatever its case."""
    return func.lower(column).like(like_pattern(word), escape="!")


def trigram_index(table: str, name: str) -> Index:
    """The PostgreSQL index that answers :func:`contains` on ``name`` within a firm."""
    lowered = func.lower(column(name)).label(f"lower_{name}")
    return Index(
        f"ix_{table}_{name}_trgm",
        "tenant_id",
        lowered,
        postgresql_using="gin",
        postgresql_ops={lowered.name: "gin_trgm_ops"},
    ).ddl_if(dialect="postgresql")
