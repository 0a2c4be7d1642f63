"""Every Python block of README.md runs as written (issue 10): in a fresh interpreter, in a directory where
``wssc serve`` runs with its defaults (port 8080, its development certificate in ./wssc-dev/), with a Redis on
6379.  A block preceded by ``<!-- illustrative -->`` (a real WCF endpoint, a Kerberos realm) is not run, but
every module it imports imports and every name it uses is bound in it or a builtin."""

from __future__ import annotations

import ast
import builtins
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
ILLUSTRATIVE = "<!-- illustrative -->"
BLOCK = re.compile(r"(?P<marker><!-- illustrative -->\n)?```python\n(?P<code>.*?)```", re.S)


def blocks() -> list[tuple[int, str, bool]]:
    """(line, code, illustrative) of every Python block."""
    text = README.read_text()
    return [
        (text.count("\n", 0, m.start("code")) + 1, m.group("code"), m.group("marker") is not None)
        for m in BLOCK.finditer(text)
    ]


RUNNABLE = [pytest.param(code, id=f"line{line}") for line, code, illustrative in blocks() if not illustrative]
ILLUSTRATED = [pytest.param(code, id=f"line{line}") for line, code, illustrative in blocks() if illustrative]


#: this process's environment, a relative PYTHONPATH (``PYTHONPATH=src``) made absolute for other directories
ENV = dict(
    os.environ,
    PYTHONPATH=os.pathsep.join(str(Path(p).resolve()) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p),
)


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A directory with ``wssc serve`` (defaults) running in it and a Redis on 6379."""
    from redis_support import redis_server

    folder = tmp_path_factory.mktemp("readme")
    if _listening(8080):
        pytest.fail("port 8080 is taken: the README's blocks talk to wssc serve's default port")
    server = subprocess.Popen(
        [sys.executable, "-m", "wssc", "serve"], cwd=folder, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
            try:
                httpx.get("http://127.0.0.1:8080/echo?wsdl", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "wssc serve did not start"
                time.sleep(0.1)
        if _listening(6379):
            yield folder
        else:
            with redis_server(folder, 6379):
                yield folder
    finally:
        server.terminate()
        server.wait(10)


def test_the_readme_has_runnable_and_illustrative_blocks() -> None:
    assert len(RUNNABLE) >= 6 and len(ILLUSTRATED) >= 4


@pytest.mark.parametrize("code", RUNNABLE)
def test_block_runs_as_written(workdir: Path, code: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=workdir, env=ENV, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, f"{code}\n--- stderr ---\n{done.stderr}"


def unbound_names(code: str) -> set[str]:
    """Names a block loads that it never binds and that are not builtins."""
    tree = ast.parse(code)
    bound: set[str] = set(dir(builtins))
    loaded: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (bound if isinstance(node.ctx, ast.Store | ast.Del) else loaded).add(node.id)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            bound.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
    return loaded - bound


@pytest.mark.parametrize("code", ILLUSTRATED)
def test_illustrative_block_imports_and_binds_every_name(code: str) -> None:
    assert not unbound_names(code)
    imports = "\n".join(
        ast.unparse(node) for node in ast.parse(code).body if isinstance(node, ast.Import | ast.ImportFrom)
    )
    done = subprocess.run([sys.executable, "-c", imports], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr


def test_the_name_check_can_fail() -> None:
    assert unbound_names("print(service_certificate)") == {"service_certificate"}
