"""Shared pytest helpers for the tests in this folder, and the session fixture `kdc` (a loopback Kerberos realm).

Known-answer vectors live outside the project, in ``../shared/vectors`` relative to the repository root
(``WSSC_VECTORS`` overrides the location).  They are read in place, never copied into the project, and the
tests that need them skip cleanly when the folder is absent.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from kdc_support import KdcRealm


def vectors_root() -> Path:
    """Where the shared vectors are expected to be (the folder may be missing)."""
    override = os.environ.get("WSSC_VECTORS")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[1].parent / "shared" / "vectors"


def _existing(relative: str) -> Path:
    path = vectors_root() / relative
    if not path.exists():
        pytest.skip(f"test vectors not available: {path}")
    return path


@pytest.fixture(scope="session")
def vectors_dir() -> Path:
    """The vectors root; skips the test when it is absent."""
    return _existing(".")


@pytest.fixture(scope="session")
def vector_path() -> Callable[[str], Path]:
    """``vector_path("folder/file")``: a path under the vectors root; skips the test when it is absent."""
    return _existing


@pytest.fixture(scope="session")
def kdc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KdcRealm]:
    """A running MIT Kerberos realm on loopback (tests/kdc_support.py): this process's Kerberos environment points
    at it for the rest of the session; skips when the KDC or python-gssapi is not installed."""
    from kdc_support import running_kdc

    with running_kdc(tmp_path_factory.mktemp("kdc")) as realm:
        yield realm


#: The files of the negotiation family (SPNEGO, TLSNEGO): ``pytest -m negotiation`` runs them, KDC start included.
NEGOTIATION_FILES = ("negotiat", "spnego", "test_readme.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if any(part in item.path.name for part in NEGOTIATION_FILES):
            item.add_marker(pytest.mark.negotiation)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "vector_entries(file, key, argname, id_key): parametrize `argname` over the list `key` of a JSON "
        "file under the vectors root (one skipped case when the file is absent)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker("vector_entries")
    if marker is None:
        return
    relative, key, argname, id_key = marker.args
    path = vectors_root() / relative
    if not path.is_file():
        skipped = pytest.param(None, marks=pytest.mark.skip(reason=f"test vectors not available: {path}"))
        metafunc.parametrize(argname, [skipped], ids=["absent"])
        return
    entries: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))[key]
    metafunc.parametrize(argname, entries, ids=[str(e[id_key]) for e in entries])
