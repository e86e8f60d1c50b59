"""A real S3-compatible server for the tests: moto's server mode (PyPI), on a free loopback
port of its own in each test process, with one bucket.

The file tests run on the local disk and on this server (``both_stores`` in
:mod:`tests.conftest`); with ``CI=true`` a server that does not start fails the run.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

import httpx
from moto.server import ThreadedMotoServer

from luotsi.platform.settings import Settings

BUCKET = "luotsi-test"
# moto takes any credentials; these show that ours are passed along.
ACCESS_KEY_ID = "luotsi-test-key"
SECRET_ACCESS_KEY = "luotsi-test-secret"


@dataclass(frozen=True)
class S3Server:
    endpoint: str  # http://127.0.0.1:<port>

    def settings(self, settings: Settings, prefix: str) -> Settings:
        """``settings`` with files kept in this server's bucket under ``prefix``."""
        return replace(
            settings,
            storage_url=f"s3://{BUCKET}/{prefix}",
            s3_endpoint=self.endpoint,
            s3_region="eu-north-1",
            s3_access_key_id=ACCESS_KEY_ID,
            s3_secret_access_key=SECRET_ACCESS_KEY,
        )

    def env(self, prefix: str) -> dict[str, str]:
        """The same as ``LUOTSI_*`` variables, for a server process."""
        return {
            "LUOTSI_STORAGE_URL": f"s3://{BUCKET}/{prefix}",
            "LUOTSI_S3_ENDPOINT": self.endpoint,
            "LUOTSI_S3_REGION": "eu-north-1",
            "LUOTSI_S3_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "LUOTSI_S3_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        }


@contextmanager
def running_s3() -> Iterator[S3Server]:
    """moto's S3 on a free loopback port, with :data:`BUCKET` made; stopped at the end."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        # CreateBucket, unsigned: moto checks no signatures unless told to.
        created = httpx.put(
            f"{endpoint}/{BUCKET}",
            content=(
                "<CreateBucketConfiguration><LocationConstraint>eu-north-1"
                "</LocationConstraint></CreateBucketConfiguration>"
            ),
        )
        created.raise_for_status()
        yield S3Server(endpoint)
    finally:
        server.stop()
