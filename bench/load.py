"""Load: the main pages under wrk on loopback, side by side with a bare Litestar endpoint.

Not part of the test suite; run it by hand against a database filled by ``bench.seed`` and
write the figures down (docs/performance.md). Needs ``wrk`` (``apt-get install -y wrk``) and
the keys the seed ran with:

    LUOTSI_MASTER_KEYS=... LUOTSI_SECRET_KEY=... .venv/bin/python -m bench.load \\
        --database-url postgresql://postgres@127.0.0.1:5432/luotsi_bench [--workers 2]

It starts the bare app (bench/bare.py) and ``luotsi serve`` (one process, or ``--workers N``)
on free ports, signs in through the real login form as the owner, the busiest supervisor and
the HR contact of the largest firm (``f0001``) and of the smallest, then points wrk at each
page for ``--duration`` with ``--connections`` connections, one page after another (never two
at once), and prints a markdown table: requests per second, latency percentiles and the rate as
a share of the bare endpoint's. Nothing is asserted. Each page is asked for once before it is
measured, so that the first request's work (templates compiled, caches filled) is not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import asyncpg
import httpx

from bench.seed import BENCH_PASSWORD, DOMAIN
from luotsi.platform.apitokens import PREFIX

# Prints one JSON line when wrk is done: the percentiles wrk's own --latency leaves out (p95).
WRK_SCRIPT = """
wrk.method = os.getenv("BENCH_METHOD") or "GET"
local body = os.getenv("BENCH_BODY") or ""
if body ~= "" then wrk.body = body end
-- With --think: each connection is a person who reads the page before the next request,
-- for an exponentially distributed time of that mean (people who click independently: the
-- connections, which all start at once, fall out of step within a few requests).
local think = tonumber(os.getenv("BENCH_THINK_MS") or "0")
if think > 0 then
  delay = function() return math.floor(-math.log(1 - math.random()) * think) end
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "seconds": %f, "p50": %f, "p95": %f, "p99": %f, "bad_status": %d,'
    .. ' "socket_errors": %d}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000,
    latency:percentile(95) / 1000, latency:percentile(99) / 1000, e.status,
    e.connect + e.read + e.write + e.timeout))
end
"""


@dataclass
class Target:
    """One page as wrk asks for it."""

    name: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    method: str = "GET"
    body: str = ""


@dataclass
class Result:
    target: Target
    rate: float
    p50: float
    p95: float
    p99: float
    bad: int  # responses other than 2xx/3xx, and socket errors


@dataclass
class FirmPeople:
    """Who the load signs in as in one firm, and what they open."""

    slug: str
    owner: str
    supervisor: str
    hr_contact: str
    agreement_id: str
    api_token: str  # the owner's, reading sessions (the JSON API)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(
    command: list[str], env: dict[str, str], port: int, ready: str
) -> subprocess.Popen[bytes]:
    """Start a server and wait until ``ready`` answers 200 on ``port``."""
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)  # noqa: S603
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}{ready}", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            raise SystemExit(f"{command[0]} exited with {process.returncode}")
        time.sleep(0.3)
    process.terminate()
    raise SystemExit(f"{' '.join(command)} did not answer {ready} within 60 s")


async def firm_people(database_url: str, slug: str) -> FirmPeople:
    """The firm's owner and HR contact, its supervisor with the most agreements and one of
    that supervisor's active agreements (the one with the most sessions)."""
    conn = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    try:
        tenant_id = await conn.fetchval("SELECT id FROM tenants WHERE slug = $1", slug)
        api_token = await _api_token(conn, tenant_id, f"omistaja@{slug}.{DOMAIN}")
        row = await conn.fetchrow(
            """
            SELECT u.email, a.id AS agreement_id
            FROM agreement_supervisors s
            JOIN memberships m ON m.tenant_id = s.tenant_id AND m.id = s.membership_id
            JOIN users u ON u.id = m.user_id
            JOIN agreements a ON a.tenant_id = s.tenant_id AND a.id = s.agreement_id
            WHERE s.tenant_id = $1 AND a.status = 'active'
            ORDER BY count(*) OVER (PARTITION BY m.id) DESC, a.end_date DESC, a.id
            LIMIT 1
            """,
            tenant_id,
        )
    finally:
        await conn.close()
    if row is None:
        raise SystemExit(f"firm {slug} has no active agreement: seed with bench.seed first")
    return FirmPeople(
        slug=slug,
        owner=f"omistaja@{slug}.{DOMAIN}",
        supervisor=row["email"],
        hr_contact=f"hr@{slug}-asiakas.{DOMAIN}",
        agreement_id=str(row["agreement_id"]),
        api_token=api_token,
    )


async def _api_token(conn: asyncpg.Connection, tenant_id: object, owner: str) -> str:
    """A new API token of the firm's owner reading sessions, as the owner's page would make
    one (only its hash is stored; it is revoked at once by no one: the bench's database)."""
    text = f"{PREFIX}{tenant_id.hex}_{secrets.token_urlsafe(32)}"  # type: ignore[attr-defined]
    await conn.execute(
        """
        INSERT INTO api_tokens (tenant_id, id, name, scopes, secret_hash, hint, created_by,
                                created_at)
        SELECT m.tenant_id, gen_random_uuid(), 'bench', ',sessions_read,', $3, right($4, 4),
               m.id, now()
        FROM memberships m JOIN users u ON u.id = m.user_id
        WHERE m.tenant_id = $1 AND u.email = $2
        """,
        tenant_id,
        owner,
        hashlib.sha256(text.encode()).hexdigest(),
        text,
    )
    return text


def _named(cookies: httpx.Cookies, name: str) -> tuple[str, str]:
    """A cookie's name and value: ``__Host-<name>`` outside debug mode, ``<name>`` in it."""
    for full in (f"__Host-{name}", name):
        if full in cookies:
            return full, str(cookies[full])
    raise SystemExit(f"no {name} cookie")


def csrf_cookie(base: str) -> tuple[str, str]:
    return _named(httpx.get(f"{base}/login").cookies, "luotsi_csrf")


def sign_in(base: str, email: str) -> str:
    """The Cookie header of a session signed in through the login form (its CSRF token is
    the session's own, set by the sign-in)."""
    name, csrf = csrf_cookie(base)
    response = httpx.post(
        f"{base}/login",
        data={"email": email, "password": BENCH_PASSWORD},
        headers={"x-csrftoken": csrf, "Cookie": f"{name}={csrf}"},
    )
    if response.status_code != 303:
        raise SystemExit(f"sign-in as {email} failed: HTTP {response.status_code}")
    session, token = _named(response.cookies, "luotsi_session")
    csrf_name, bound = _named(response.cookies, "luotsi_csrf")
    return f"{csrf_name}={bound}; {session}={token}"


def targets(base: str, bare: str, firms: list[tuple[str, FirmPeople]]) -> list[Target]:
    found = [Target("bare Litestar endpoint (constant)", f"{bare}/")]
    for label, people in firms:
        ws = f"{base}/t/{people.slug}"
        owner = {"Cookie": sign_in(base, people.owner)}
        supervisor = {"Cookie": sign_in(base, people.supervisor)}
        hr = {"Cookie": sign_in(base, people.hr_contact)}
        public = f"{base}/f/{people.slug}/?{urlencode({'place': 'Uusimaa'})}"
        found += [
            Target(f"{label}: supervisor's dashboard", f"{ws}/", supervisor),
            Target(f"{label}: calendar week", f"{ws}/calendar/?view=week", supervisor),
            Target(
                f"{label}: agreement page", f"{ws}/agreements/{people.agreement_id}", supervisor
            ),
            Target(f"{label}: HR contact's portal", f"{ws}/portal/", hr),
            Target(f"{label}: public directory, region filter", public),
            Target(
                f"{label}: htmx swap (directory results)",
                public,
                {"HX-Request": "true", "HX-Target": "results"},
            ),
            Target(f"{label}: invoice list (owner)", f"{ws}/billing/invoices", owner),
            Target(
                f"{label}: JSON API, sessions list",
                f"{base}/api/v1/sessions",
                {"Authorization": f"Bearer {people.api_token}"},
            ),
        ]
    small = firms[-1][1]
    csrf_name, csrf = csrf_cookie(base)
    found.append(
        Target(
            "login POST (right password)",
            f"{base}/login",
            {
                "Cookie": f"{csrf_name}={csrf}",
                "x-csrftoken": csrf,
                "Content-Type": "application/x-www-form-urlencoded",
            },
            method="POST",
            body=urlencode({"email": small.owner, "password": BENCH_PASSWORD}),
        )
    )
    return found


def measure(
    target: Target, script: Path, connections: int, seconds: int, think_ms: int = 0
) -> Result:
    headers = [arg for k, v in target.headers.items() for arg in ("-H", f"{k}: {v}")]
    env = {
        **os.environ,
        "BENCH_METHOD": target.method,
        "BENCH_BODY": target.body,
        "BENCH_THINK_MS": str(think_ms),
    }
    warm = httpx.request(
        target.method, target.url, headers=target.headers, content=target.body or None, timeout=60
    )
    expected = 303 if target.method == "POST" else 200  # a redirect to sign-in measures nothing
    if warm.status_code != expected:
        raise SystemExit(f"{target.name}: HTTP {warm.status_code}, expected {expected}")
    wrk = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s"]
    output = subprocess.run(  # noqa: S603
        [*wrk, "-s", str(script), *headers, target.url],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(line for line in output.splitlines() if line.startswith("{"))
    data = json.loads(line)
    return Result(
        target,
        data["requests"] / data["seconds"],
        data["p50"],
        data["p95"],
        data["p99"],
        data["bad_status"] + data["socket_errors"],
    )


def table(results: list[Result]) -> str:
    ceiling = results[0].rate
    lines = [
        "| page | requests/s | p50 ms | p95 ms | p99 ms | errors | share of bare |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        lines.append(
            f"| {r.target.name} | {r.rate:,.0f} | {r.p50:,.1f} | {r.p95:,.1f} | {r.p99:,.1f} "
            f"| {r.bad} | 1/{ceiling / r.rate:,.0f} |"
            if r.rate
            else f"| {r.target.name} | 0 | | | | {r.bad} | |"
        )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> str:
    env = {
        **os.environ,
        "LUOTSI_DATABASE_URL": args.database_url,
        "LUOTSI_LOG_LEVEL": "WARNING",
        "LUOTSI_WORKER_IN_PROCESS": "0",  # the worker's jobs would compete with the pages
        # The API allows a token 120 calls a minute by default: the load would measure 429s.
        "LUOTSI_API_REQUESTS_PER_MINUTE": "100000000",
    }
    bare_port, port = free_port(), free_port()
    python = sys.executable
    bare_command = [python, "-m", "uvicorn", "bench.bare:app", "--port", str(bare_port)]
    bare_command += ["--no-access-log", "--log-level", "warning"]
    serve = [str(Path(python).with_name("luotsi")), "serve", "--port", str(port)]
    serve += ["--workers", str(args.workers)]
    processes = [start(bare_command, env, bare_port, "/")]
    try:
        processes.append(start(serve, env, port, "/healthz"))
        base, bare = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{bare_port}"
        firms = [
            (label, asyncio.run(firm_people(args.database_url, slug)))
            for label, slug in (("largest firm", args.large), ("smallest firm", args.small))
        ]
        with tempfile.TemporaryDirectory() as tmp:
            script = Path(tmp) / "report.lua"
            script.write_text(WRK_SCRIPT)
            results = []
            for target in targets(base, bare, firms):
                wanted = [part.strip() for part in args.only.split(",")]
                if target.url != f"{bare}/" and not any(p in target.name for p in wanted):
                    continue
                think = 0 if target.url.startswith(bare) else args.think
                results.append(measure(target, script, args.connections, args.duration, think))
                print(f"{target.name}: {results[-1].rate:,.1f}/s", file=sys.stderr)
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=60)
    return table(results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("LUOTSI_DATABASE_URL", ""))
    parser.add_argument("--workers", type=int, default=1, help="luotsi serve --workers")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--duration", type=int, default=10, help="seconds per page")
    parser.add_argument(
        "--think",
        type=int,
        default=0,
        help="milliseconds each connection waits between requests on average (exponentially "
        "distributed): people reading pages; 0 (the default) asks as fast as answered",
    )
    parser.add_argument(
        "--only",
        default="",
        help="only the pages whose name contains one of these (commas between)",
    )
    parser.add_argument("--large", default="f0001", help="the largest firm's slug")
    parser.add_argument("--small", default="f2000", help="the smallest firm's slug")
    args = parser.parse_args()
    if not args.database_url.startswith("postgresql"):
        parser.error("--database-url: a PostgreSQL database filled by bench.seed")
    print(table_header(args))
    print(run(args))


def table_header(args: argparse.Namespace) -> str:
    return (
        f"wrk -t2 -c{args.connections} -d{args.duration}s per page"
        + (f", {args.think} ms to think between requests" if args.think else "")
        + f", luotsi serve --workers {args.workers}, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n"
    )


if __name__ == "__main__":
    main()
