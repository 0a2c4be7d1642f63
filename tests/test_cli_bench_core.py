"""``wssc bench`` names the path it measured (issue 11): ``"core": "rust"|"python"`` in ``--json`` beside the
keys it always had, and in the table one line saying, when the compiled core is not installed, that the Python
path (slower) was measured and how to get the core.  A real run, its keys and its ``core``:
tests/test_cli.py::test_bench_json; here ``measure`` is replaced, the choice of path is what is tested."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner

from wssc.adapters.cli import bench, main
from wssc.security import compiled


def _fake_measure(body_bytes: int, seconds: float, envelope: bytes | None = None) -> dict[str, Any]:
    return {"body_bytes": body_bytes, "protected_bytes": 3 * body_bytes, "protect_us": 1.0, "unprotect_us": 2.0,
            "floor_us": 1.5, "ratio": 2.0, "messages_per_second": 333333}


def _bench(args: list[str]) -> str:
    result = CliRunner().invoke(main, ["bench", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize(("installed", "forced", "core"), [(True, False, "rust"), (True, True, "python"),
                                                            (False, False, "python")])
def test_json_core_follows_the_choice(monkeypatch: pytest.MonkeyPatch, installed: bool, forced: bool,
                                      core: str) -> None:
    monkeypatch.setattr(bench, "measure", _fake_measure)
    monkeypatch.setattr(compiled, "_CORE", object() if installed else None)
    if forced:
        monkeypatch.setattr(compiled, "_ENV_FORCES_PYTHON", True)
    else:
        monkeypatch.setattr(compiled, "_ENV_FORCES_PYTHON", False)
    assert json.loads(_bench(["--json"]))["core"] == core


def test_table_says_once_that_the_core_is_absent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench, "measure", _fake_measure)
    monkeypatch.setattr(compiled, "_CORE", None)
    out = _bench([])
    assert out.count("is not installed") == 1, out
    assert bench.CORE_ABSENT in out
    assert "Python path" in bench.CORE_ABSENT and "pip install ." in bench.CORE_ABSENT


@pytest.mark.parametrize("forced", [False, True])
def test_table_says_nothing_of_absence_when_installed(monkeypatch: pytest.MonkeyPatch, forced: bool) -> None:
    monkeypatch.setattr(bench, "measure", _fake_measure)
    monkeypatch.setattr(compiled, "_CORE", object())
    if forced:
        monkeypatch.setattr(compiled, "_ENV_FORCES_PYTHON", True)
    else:
        monkeypatch.setattr(compiled, "_ENV_FORCES_PYTHON", False)
    out = _bench([])
    assert "not installed" not in out
    assert ("core: python" if forced else "core: rust") in out
