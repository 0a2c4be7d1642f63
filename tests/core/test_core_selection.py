"""Which path does the per-message work (``wssc.security.compiled``, docs/core.md): the compiled core when it
is installed, unless ``WSSC_PURE_PYTHON`` or ``forced_python()`` says otherwise; and CI's guard that the core
was built where it could be (scripts/test sets ``WSSC_REQUIRE_CORE=1`` when cargo exists)."""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Iterator

import pytest

from wssc.security import compiled

#: set by scripts/test when cargo is on PATH: the suite must then run with the core, not silently without it
REQUIRE_ENV = "WSSC_REQUIRE_CORE"


def test_core_built_where_ci_requires_it() -> None:
    if os.environ.get(REQUIRE_ENV) != "1":
        pytest.skip(f"{REQUIRE_ENV} is not set: scripts/test sets it when cargo exists")
    try:
        importlib.import_module("wssc._core")
    except ImportError as exc:
        pytest.fail(f"cargo exists but wssc._core did not build or import ({exc}): see pip install -v -e .")
    assert compiled.installed()


@pytest.fixture(autouse=True)
def _environment_read_again() -> Iterator[None]:
    """The variable is read once at import: each test reads it again after changing it, and after."""
    yield
    compiled.reread_environment()


@pytest.mark.parametrize("value", ["1", "true", "YES", " on "])
def test_env_forces_the_python_path(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(compiled.PURE_PYTHON_ENV, value)
    compiled.reread_environment()
    assert compiled.core() is None
    assert compiled.active() == "python"


@pytest.mark.parametrize("value", ["", "0", "no", "false"])
def test_env_not_forcing(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(compiled.PURE_PYTHON_ENV, value)
    compiled.reread_environment()
    assert compiled.active() == ("rust" if compiled.installed() else "python")
    assert (compiled.core() is not None) == compiled.installed()


def test_forced_python_is_per_thread_and_nests(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(compiled.PURE_PYTHON_ENV, raising=False)
    compiled.reread_environment()
    unforced = "rust" if compiled.installed() else "python"
    seen: list[str] = []
    with compiled.forced_python():
        with compiled.forced_python():
            assert compiled.active() == "python"
        assert compiled.active() == "python"  # the inner block restores the outer state, not the default
        other = threading.Thread(target=lambda: seen.append(compiled.active()))
        other.start()
        other.join()
    assert seen == [unforced]
    assert compiled.active() == unforced
