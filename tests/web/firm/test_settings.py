"""The settings hub gathers the firm's administration pages."""

from __future__ import annotations

from tests.conftest import Client
from tests.factories import Firms


async def test_owner_finds_every_settings_page(client: Client, firms: Firms) -> None:
    await client.login(firms.a.owner.user.email)
    page = await client.get("/t/alfa/settings/")
    assert page.status_code == 200
    for path in ("members/", "areas/", "specialties/", "directory/"):
        assert f'href="/t/alfa/{path}"' in page.text
    # The navigation marks Settings as current on the pages it gathers.
    areas = await client.get("/t/alfa/areas/")
    assert 'href="/t/alfa/settings/" aria-current="page"' in areas.text


async def test_supervisor_has_no_settings(client: Client, firms: Firms) -> None:
    await client.login(firms.a.supervisor.user.email)
    assert (await client.get("/t/alfa/settings/")).status_code == 403
    assert 'href="/t/alfa/settings/"' not in (await client.get("/t/alfa/staff/")).text
