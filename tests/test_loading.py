"""Loading is explicit: every relationship refuses to load by itself.

Each ``relationship()`` in the models says ``lazy="raise"`` in so many words, the same way
everywhere, rather than through a helper or a default on the base class: a reader of a model
sees at once that touching an attribute nobody loaded is an error, not a hidden query, and a
new relationship written by copying an old one keeps the rule. What a query needs it names at
the query (``joinedload``/``selectinload``/``contains_eager``; the common sets are
``AGREEMENT_NAMES``, ``AGREEMENT_WHOLE``, ``SESSION_NAMES``... beside the models). Eager
defaults hid what a page cost: a list of 25 sessions pulled in, through joined agreements and
organisations, every person of every organisation (400 in one measured case). With ``raise`` a
forgotten load fails the first test that renders the page, and
``tests/web/test_statement_counts.py`` checks that lists cost the same for 1 row and for 50.
"""

from __future__ import annotations

import pytest
from sqlalchemy.orm import RelationshipProperty

from luotsi import models  # noqa: F401  (every model registered)
from luotsi.platform.db import Base


def _relationships() -> list[RelationshipProperty[object]]:
    every = [rel for mapper in Base.registry.mappers for rel in mapper.relationships]
    return sorted(every, key=str)  # the same order in every xdist worker


def test_the_models_have_relationships_to_check() -> None:
    assert len(_relationships()) >= 15


@pytest.mark.parametrize("relationship", _relationships(), ids=str)
def test_every_relationship_raises_instead_of_loading_by_itself(
    relationship: RelationshipProperty[object],
) -> None:
    assert relationship.lazy == "raise", f"{relationship} is lazy={relationship.lazy!r}"
