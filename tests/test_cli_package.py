"""The command line's sub-package (issue 8): its entry points, and the deprecated aliases of the old paths."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

import wssc.adapters.cli as cli
from wssc.adapters.cli import bench, commands, conversation

SRC = Path(__file__).resolve().parents[1] / "src"


def test_main_is_the_click_group() -> None:
    """``wssc = "wssc.adapters.cli:main"`` (pyproject.toml) and ``python -m wssc`` name the same group."""
    assert cli.main is commands.main
    assert {"derive", "protect", "unprotect", "bench", "serve", "call", "cancel", "demo", "policy"} <= set(
        cli.main.commands
    )


def test_python_dash_m_runs_the_command_line() -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]))
    for module in ("wssc", "wssc.adapters.cli"):
        done = subprocess.run(
            [sys.executable, "-m", module, "--help"], check=False, env=env, capture_output=True, timeout=60
        )
        assert done.returncode == 0, done.stderr.decode()
        assert b"serve" in done.stdout


@pytest.mark.parametrize(
    ("old", "new", "name"),
    [("wssc.adapters.cli_conversation", conversation, "build_app"), ("wssc.adapters.bench", bench, "measure")],
)
def test_old_paths_are_deprecated_aliases(old: str, new: object, name: str) -> None:
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=old):
        alias = importlib.import_module(old)
    assert getattr(alias, name) is getattr(new, name)
    moved = {"call", "cancel", "read_users", "serve"}  # to .call, .serve_checks and .serving; still in the alias
    assert set(alias.__all__) - moved <= set(vars(new))
