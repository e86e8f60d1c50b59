"""``python -m bench.seed`` at a tiny scale: the benchmark's data is what the app can serve."""

from __future__ import annotations

from sqlalchemy import text

from bench.seed import BENCH_PASSWORD, DOMAIN, Sizes, seed
from luotsi.platform.crypto import ContentCipher
from luotsi.tenants.content.models import NOTE_BODY
from tests import clock
from tests.conftest import Backend, Client, postgres_only

SCALE = 0.001  # 2 firms, 20 supervisors, 200 people, 100 agreements, 3,000 sessions


async def _count(backend: Backend, table: str) -> int:
    async with backend.owner.connect() as conn:
        return int(await conn.scalar(text(f"SELECT count(*) FROM {table}")))


@postgres_only
async def test_seed_makes_the_sizes_asked_for_with_a_year_of_invoices(clean_db: Backend) -> None:
    report = await seed(clean_db.settings, SCALE, today=clock.today())
    sizes = Sizes.at(SCALE)
    assert await _count(clean_db, "tenants") == sizes.firms == 2
    assert await _count(clean_db, "memberships WHERE role = 'supervisor'") == sizes.supervisors
    assert await _count(clean_db, "client_people") == sizes.people
    assert await _count(clean_db, "agreements") == sizes.agreements
    assert await _count(clean_db, "supervision_sessions") == sizes.sessions
    assert await _count(clean_db, "inquiries") == sizes.inquiries
    assert report.counts["supervision_sessions"] == sizes.sessions
    # A few large firms, many small: the first firm is the largest.
    async with clean_db.owner.connect() as conn:
        per_firm = list(
            await conn.scalars(
                text(
                    "SELECT count(*) FROM supervision_sessions s JOIN tenants t"
                    " ON t.id = s.tenant_id GROUP BY t.slug ORDER BY t.slug"
                )
            )
        )
        months = await conn.scalar(
            text("SELECT count(DISTINCT period_start) FROM invoices WHERE status = 'issued'")
        )
        note = (await conn.execute(text("SELECT tenant_id, id, body FROM session_notes"))).first()
    assert per_firm[0] > per_firm[1]
    assert months == 12
    assert note is not None
    cipher = ContentCipher(clean_db.settings.content_keys)
    assert cipher.decrypt(note.body, NOTE_BODY.binding(note.tenant_id, note.id))


@postgres_only
async def test_a_seeded_firms_owner_signs_in_and_opens_the_dashboard(
    clean_db: Backend, client: Client
) -> None:
    report = await seed(clean_db.settings, SCALE, today=clock.today())
    slug = report.largest_firm
    await client.login(f"omistaja@{slug}.{DOMAIN}", BENCH_PASSWORD)
    response = await client.get(f"/t/{slug}/")
    assert response.status_code == 200
    assert "Bench Työnohjaus 0001 Oy" in response.text
