"""Fixtures the page tests share."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar

from tests.conftest import Backend, Client


@pytest.fixture
def people(stripe_app: Litestar, clean_db: Backend) -> Any:
    """Signed-in clients of the Stripe-enabled app, in English, one per e-mail address."""
    signed_in: dict[str, Client] = {}

    async def as_(email: str) -> Client:
        if email not in signed_in:
            client = Client(stripe_app)
            client.client.cookies.set("luotsi_lang", "en")
            await client.login(email)
            signed_in[email] = client
        return signed_in[email]

    return as_
