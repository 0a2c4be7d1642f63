"""Loopback HTTP servers for tests: uvicorn in a thread, and `wssc serve` as a subprocess."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    def __init__(self, app: object) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/echo"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="error")  # type: ignore[arg-type]
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.server.force_exit = True
        self.thread.join(5)


class ServeProcess:
    """`wssc serve` in a subprocess, with a key log and a generated development certificate."""

    def __init__(self, workdir: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/echo"
        self.keylog = workdir / "keys.log"
        env = dict(os.environ, WSSC_KEYLOG=str(self.keylog), **(env or {}))
        # The server runs in ``workdir``: a relative PYTHONPATH (``PYTHONPATH=src``) would miss this checkout.
        paths = env.get("PYTHONPATH", "").split(os.pathsep)
        env["PYTHONPATH"] = os.pathsep.join(str(Path(p).resolve()) for p in paths if p)
        cmd = [sys.executable, "-m", "wssc.adapters.cli", "serve", "--port", str(self.port), *args]
        self.proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.cert_path = workdir / "wssc-dev" / "service-cert.pem"
        deadline = time.monotonic() + 20
        while True:
            assert self.proc.poll() is None, self.proc.stderr.read().decode() if self.proc.stderr else ""
            try:
                httpx.get(self.url, timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "wssc serve did not start"
                time.sleep(0.1)

    def logged_keys(self) -> list[tuple[str, str, str]]:
        lines = self.keylog.read_text().splitlines() if self.keylog.exists() else []
        return [tuple(line.split()[1:4]) for line in lines if line.startswith("CONTEXT ")]  # type: ignore[misc]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@contextmanager
def serve_pair(
    workdir: Path, pair: tuple[Any, Any], seal_key: bytes, *args: str
) -> Iterator[tuple[ServeProcess, ServeProcess]]:
    """Two `wssc serve` nodes of one service: the same certificate and key (``pair``), the same
    ``WSSC_SEAL_KEY``, the same extra ``args``; nothing else shared."""
    from pki import key_pem, pem

    certificate, private_key = pair
    (workdir / "cert.pem").write_bytes(pem(certificate))
    (workdir / "key.pem").write_bytes(key_pem(private_key))
    env = {"WSSC_SEAL_KEY": base64.b64encode(seal_key).decode()}
    common = ("--cert", str(workdir / "cert.pem"), "--key", str(workdir / "key.pem"), *args)
    nodes: list[ServeProcess] = []
    try:
        for name in ("a", "b"):
            (workdir / name).mkdir()
            nodes.append(ServeProcess(workdir / name, *common, env=env))
        yield nodes[0], nodes[1]
    finally:
        for node in nodes:
            node.stop()
