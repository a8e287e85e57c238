"""moto's S3 server (``python -m moto.server``) on a free loopback port."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from tests.servers._process import HOST, Launch, ServerProcess, ServerUnavailable, start_server
from tests.servers._s3probe import s3_probe
from tests.servers.info import S3Server

__all__ = ["start_moto"]

# moto accepts any keys; these only have to be well-formed.
_ACCESS_KEY = "orbit-moto-access"
_SECRET_KEY = "orbit-moto-secret"
_REGION = "us-east-1"


def start_moto(root: Path) -> tuple[S3Server, ServerProcess]:
    """Start moto_server with its log in ``root``; returns its details and process."""
    if importlib.util.find_spec("moto") is None or importlib.util.find_spec("flask") is None:
        raise ServerUnavailable("moto server is not installed: pip install 'moto[s3,server]'")

    def build(port: int) -> Launch:
        endpoint = f"http://{HOST}:{port}"
        # The interpreter running the tests, so the venv's moto is used whatever PATH says.
        argv = [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(port)]
        return Launch(argv, s3_probe(endpoint, _ACCESS_KEY, _SECRET_KEY, _REGION))

    process = start_server("moto", root, build)
    info = S3Server(
        name="moto",
        endpoint_url=f"http://{HOST}:{process.port}",
        access_key=_ACCESS_KEY,
        secret_key=_SECRET_KEY,
        region=_REGION,
        data_dir=None,
    )
    return info, process
