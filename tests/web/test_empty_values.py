"""Empty values render as empty, never as "None", and are saved as empty."""

from __future__ import annotations

import re

from tests.conftest import Client
from tests.factories import Firms


def form_values(page: str) -> dict[str, str]:
    fields = dict(re.findall(r'<input[^>]*name="(\w+)"[^>]*value="([^"]*)"', page))
    fields |= dict(re.findall(r'<textarea[^>]*name="(\w+)"[^>]*>([^<]*)</textarea>', page))
    return fields


async def test_a_new_firms_public_page_settings_are_empty_and_save_as_empty(
    client: Client, firms: Firms
) -> None:
    await client.login(firms.a.owner.user.email)
    page = await client.get("/t/alfa/directory/")
    assert page.status_code == 200
    values = form_values(page.text)
    for name in ("description_fi", "description_sv", "description_en", "public_email"):
        assert values[name].strip() == "", name
    assert "None" not in page.text

    # Saving the untouched form publishes nothing.
    form = {k: v for k, v in values.items() if k != "_csrf_token"} | {"directory_enabled": "on"}
    saved = await client.post("/t/alfa/directory/", form)
    assert saved.status_code == 303, saved.text
    public = await client.get("/f/alfa/")
    assert public.status_code == 200 and "None" not in public.text


async def test_templates_render_none_as_nothing(client: Client, firms: Firms) -> None:
    await client.login(firms.a.owner.user.email)
    for path in ("/t/alfa/directory/", "/t/alfa/areas/new", "/t/alfa/clients/new", "/account"):
        page = await client.get(path)
        assert page.status_code == 200 and ">None<" not in page.text
        assert 'value="None"' not in page.text, path
