"""Over-long input is refused with a message naming the limit, never cut short; the limit is
written as the reader's language writes numbers."""

from __future__ import annotations

import pytest

from tests.conftest import Client, Outbox, link_in
from tests.factories import Firms
from tests.web.clients.test_clients import GOOD_ORG
from tests.web.test_signup import GOOD as GOOD_SIGNUP

LONG_NAME = "N" * 10_000


async def test_an_over_long_name_at_signup_is_refused_not_cut(client: Client) -> None:
    response = await client.post(
        "/signup/", {**GOOD_SIGNUP, "name": LONG_NAME}, headers={"accept-language": "en"}
    )
    assert response.status_code == 422
    assert "Shorten this to 200 characters." in response.text
    long_firm = await client.post("/signup/", {**GOOD_SIGNUP, "firm_name": "F" * 201})
    assert long_firm.status_code == 422 and "200" in long_firm.text


async def test_an_over_long_name_when_accepting_an_invitation_is_refused(
    client_factory, outbox: Outbox, firms: Firms
) -> None:  # type: ignore[no-untyped-def]
    owner = client_factory()
    await owner.login(firms.a.owner.user.email)
    invited = await owner.post(
        "/t/alfa/members/invite", {"email": "long@example.fi", "role": "supervisor"}
    )
    assert invited.status_code == 303
    link = link_in(await outbox.last_to("long@example.fi"))
    invitee = client_factory()
    form = {"name": LONG_NAME, "password": "a good long password"}
    response = await invitee.post(link, form, headers={"accept-language": "en"})
    assert response.status_code == 422
    assert "Shorten this to 200 characters." in response.text
    assert (await invitee.get("/t/alfa/")).status_code != 200  # no account was made


async def test_a_form_field_over_the_general_limit_is_refused_with_a_reason(
    client: Client, firms: Firms
) -> None:
    await client.login(firms.a.owner.user.email)
    await client.post("/language", {"language": "en", "next": "/"})
    form = {**GOOD_ORG, "billing_city": "x" * 10_001}
    response = await client.post("/t/alfa/clients/new", form)
    assert response.status_code == 400
    assert "longer than 10\u00a0000 characters" in response.text
    assert "Hyvinkään kaupunki" not in (await client.get("/t/alfa/clients/?archived=1")).text


async def test_an_over_long_search_is_refused_not_cut(client: Client, firms: Firms) -> None:
    await client.login(firms.a.owner.user.email)
    response = await client.get("/t/alfa/clients/?q=" + "a" * 101)
    assert response.status_code == 400 and "100" in response.text


def field_error(page: str, name: str) -> str:
    return page.split(f'id="{name}-error">')[1].split("</p>")[0]


async def test_the_area_form_refuses_long_input_without_echoing_it(
    client: Client, firms: Firms
) -> None:
    await client.login(firms.a.owner.user.email)
    await client.post("/language", {"language": "en", "next": "/"})
    english = {"accept-language": "en"}
    unknown = "Tuntematonpaikka" * 600  # about 10 kB, one name
    response = await client.post(
        "/t/alfa/areas/new", {"name": "Uusi alue", "place_names": unknown}, headers=english
    )
    assert response.status_code == 400
    assert "2\u00a0000" in response.text and "Tuntematonpaikka" not in response.text

    long_name = await client.post(
        "/t/alfa/areas/new", {"name": "A" * 10_000, "region": "01"}, headers=english
    )
    assert long_name.status_code == 422
    assert field_error(long_name.text, "name") == "Shorten this to 120 characters."


async def test_the_area_form_names_only_a_few_short_unknown_places(
    client: Client, firms: Firms
) -> None:
    await client.login(firms.a.owner.user.email)
    made_up = ["Eipaikka" + "x" * 80] + [f"Kuvitteellinen{i}" for i in range(10)]
    response = await client.post(
        "/t/alfa/areas/new", {"name": "Uusi alue", "place_names": ", ".join(made_up)}
    )
    assert response.status_code == 422
    message = field_error(response.text, "place_names")
    assert "Kuvitteellinen0" in message and "Eipaikka" not in message
    assert "Kuvitteellinen9" not in message


@pytest.mark.parametrize(
    ("language", "shown"),
    [("fi", "5\u00a0000"), ("sv", "5\u00a0000"), ("en", "5\u00a0000")],
)
async def test_length_limits_are_written_the_locale_way(
    client: Client, firms: Firms, language: str, shown: str
) -> None:
    await client.login(firms.a.owner.user.email)
    await client.post("/language", {"language": language, "next": "/"})
    form = {**GOOD_ORG, "internal_notes": "x" * 5001}
    response = await client.post("/t/alfa/clients/new", form)
    assert response.status_code == 422
    message = field_error(response.text, "internal_notes")
    assert shown in message and "5,000" not in message and "5000" not in message
