"""A throwaway ``redis-server`` on a free loopback port, for the farm tests (Debian package ``redis-server``,
installed by ``scripts/test-deps``).  Without the binary the tests skip, except under CI where they fail."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis

from http_support import free_port


@contextmanager
def redis_server(workdir: Path, port: int | None = None) -> Iterator[str]:
    """Start redis-server (no persistence) on ``port`` (default: a free one) and yield its URL; stopped on exit."""
    binary = shutil.which("redis-server")
    if binary is None:
        message = "redis-server is not installed (scripts/test-deps installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    port = port or free_port()
    cmd = [
        binary,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(workdir),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                assert proc.poll() is None, "redis-server exited"
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)
        client.close()
        yield url
    finally:
        proc.terminate()
        proc.wait(10)
