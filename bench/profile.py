"""Profile one page in-process: where a request's time goes, with the database's waits folded.

Not part of the test suite; run by hand against a database filled by ``bench.seed``, with the
keys the seed ran with:

    .venv/bin/python -m bench.profile \\
        --database-url postgresql://postgres@127.0.0.1:5432/luotsi_bench \\
        --firm f0010 --page portal --requests 200

It builds the app as ``luotsi serve`` does (same settings from the environment), signs in
through the login form as the page's user, asks for the page once to warm it, then asks for it
``--requests`` times one after another under pyinstrument and prints the profile (text, or HTML
with ``--html FILE``) and the mean time a request took (wall clock, and the CPU time of this
process, which leaves out PostgreSQL's and is steadier on a busy machine); ``--plain`` only
times the requests, without the profiler's overhead (for before/after figures). Nothing is
asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import time
from dataclasses import replace
from pathlib import Path

import httpx
from pyinstrument import Profiler

from bench.load import firm_people
from bench.seed import BENCH_PASSWORD
from luotsi.platform.settings import load_settings
from luotsi.web.app import create_app

PAGES = {
    "dashboard": ("supervisor", "/"),
    "calendar": ("supervisor", "/calendar/?view=week"),
    "everyone-week": ("owner", "/calendar/?view=week"),
    "everyone-day": ("owner", "/calendar/?view=day"),
    "owner-dashboard": ("owner", "/"),
    "sessions": ("owner", "/sessions/"),
    "agreement": ("supervisor", "/agreements/{agreement}"),
    "portal": ("hr_contact", "/portal/"),
    "invoices": ("owner", "/billing/invoices"),
    "account": ("owner", "@/account"),
    "directory": ("", "@/f/{slug}/?place=Uusimaa"),
}


async def profile(args: argparse.Namespace) -> Profiler:
    # The settings as `luotsi serve` reads them, without the worker's jobs.
    environ = {
        **os.environ,
        "LUOTSI_DATABASE_URL": args.database_url,
        "LUOTSI_LOG_LEVEL": "WARNING",
    }
    settings = replace(load_settings(environ), run_worker_in_process=False)
    app = create_app(settings)
    people = await firm_people(args.database_url, args.firm)
    who, path = PAGES[args.page]
    if path.startswith("@"):
        url = path[1:].format(slug=people.slug)
    else:
        url = f"/t/{people.slug}" + path.format(agreement=people.agreement_id)
    async with app.lifespan():
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="https://luotsi.test") as web:
            await web.get("/login")
            csrf = web.cookies.get("__Host-luotsi_csrf") or web.cookies["luotsi_csrf"]
            if who:  # the public pages are asked for by a visitor
                signed = await web.post(
                    "/login",
                    data={"email": getattr(people, who), "password": BENCH_PASSWORD},
                    headers={"x-csrftoken": csrf},
                )
                if signed.status_code != 303:
                    raise SystemExit(f"sign-in failed: HTTP {signed.status_code}")
            warm = await web.get(url)
            if warm.status_code != 200:
                raise SystemExit(f"{url}: HTTP {warm.status_code}")
            profiler = Profiler(async_mode="enabled", interval=0.0005)
            counting = cProfile.Profile()
            started, cpu = time.perf_counter(), time.process_time()
            if args.calls:
                counting.enable()
            elif not args.plain:
                profiler.start()
            for _ in range(args.requests):
                await web.get(url)
            if args.calls:
                counting.disable()
                stats = pstats.Stats(counting).sort_stats("tottime")
                stats.print_stats(40)
            elif not args.plain:
                profiler.stop()
            took, cpu = time.perf_counter() - started, time.process_time() - cpu
    each, each_cpu = 1000 * took / args.requests, 1000 * cpu / args.requests
    print(f"{args.page} ({url}) x{args.requests}: {each:.1f} ms a request, {each_cpu:.1f} ms CPU")
    return profiler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("LUOTSI_DATABASE_URL", ""))
    parser.add_argument("--firm", default="f2000")
    parser.add_argument("--page", choices=sorted(PAGES), default="portal")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--html", default="")
    parser.add_argument("--plain", action="store_true", help="only time it, no profiler")
    parser.add_argument("--flat", action="store_true", help="functions by their own time")
    parser.add_argument(
        "--calls", action="store_true", help="cProfile instead: functions by own time, with calls"
    )
    args = parser.parse_args()
    profiler = asyncio.run(profile(args))
    if args.plain or args.calls:
        return
    if args.html:
        Path(args.html).write_text(profiler.output_html())
    else:
        print(profiler.output_text(unicode=True, show_all=False, flat=args.flat))


if __name__ == "__main__":
    main()
