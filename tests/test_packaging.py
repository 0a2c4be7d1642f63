"""Packaging of the compiled core (issue 11, docs/core.md): ``pip install .`` builds ``wssc._core`` where cargo
exists and still installs the pure-Python package where it does not.

Each case builds a wheel from a copy of the project's sources (``pip wheel --no-deps --no-build-isolation``:
offline, the build backend's requirements come from the test extra) and imports the package from that wheel:

- without cargo and rustc on PATH: the wheel has no ``_core``, and wssc imports, reports the Python path and
  protects and unprotects a message;
- with cargo (when this machine has it): the wheel holds ``wssc/_core.abi3.so``, built with the release
  profile, and the core imports from it.

Built extensions in the checkout (``src/wssc/_core*.so`` from an editable install) are left out of the copy:
the no-cargo wheel must not pick one up.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow

#: what the wheel build reads; the rest of the checkout (tests, benchmarks, build outputs, rust/fuzz and its
#: corpus) is not copied
_IGNORED = shutil.ignore_patterns(
    ".git", "target", "build", "dist", "*.egg-info", "__pycache__", "*.so", ".mypy_cache", ".ruff_cache", ".hypothesis",
    "fuzz",
)

#: a wssc without its core must still do its work: protect and unprotect under a context
_SMOKE = """
import os
from wssc.security import compiled
from wssc.adapters.cli.bench import sample_envelope
from wssc.security.keys import ContextProtection, StaticKeys
from wssc.security.protect import protect
from wssc.security.unprotect import Receiver
from wssc.tokens.sct import SecurityContextToken, new_identifier
key = os.urandom(32)
sct = SecurityContextToken(new_identifier(), wsu_id="SCT-1")
data = protect(sample_envelope(1024), ContextProtection(sct, key)).data
Receiver(StaticKeys({sct.identifier: key})).unprotect(data).to_bytes()
print(compiled.installed(), compiled.active(), compiled.__file__)
"""


def _copy_sources(dst: Path) -> Path:
    project = dst / "project"
    project.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, project / name)
    for name in ("src", "rust"):
        shutil.copytree(ROOT / name, project / name, ignore=_IGNORED)
    return project


def _backend_missing() -> str | None:
    """What of the build backend's requirements (pyproject.toml [build-system]) this environment lacks."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        setuptools = tuple(int(part) for part in version("setuptools").split(".")[:2])
        version("setuptools-rust")
        version("wheel")
    except PackageNotFoundError as missing:
        return f"{missing.name} is not installed"
    return None if setuptools >= (68, 0) else "setuptools < 68"


def _build_wheel(project: Path, out: Path, env: dict[str, str]) -> tuple[Path, str]:
    """The wheel built from ``project``, and the build's log (pip -v shows the cargo command line)."""
    missing = _backend_missing()
    if missing:
        # the test extra installs them (scripts/test): under CI a missing one is a failure, not a skip
        why = f"cannot build offline: {missing} (pip install -e '.[test]')"
        (pytest.fail if os.environ.get("CI") else pytest.skip)(why)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "--no-build-isolation", "--disable-pip-version-check",
         "-w", str(out), str(project)],
        cwd=project, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    wheels = list(out.glob("wssc-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0], done.stdout + done.stderr


def _unpacked(wheel: Path, dst: Path) -> tuple[list[str], Path]:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        archive.extractall(dst)
    return names, dst


def _run_from(site: Path, env: dict[str, str]) -> str:
    env = {**env, "PYTHONPATH": str(site)}
    env.pop("WSSC_PURE_PYTHON", None)
    done = subprocess.run(
        [sys.executable, "-c", _SMOKE], cwd=site, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip()


def _path_without_rust() -> str:
    """PATH minus every directory holding cargo or rustc (~/.cargo/bin, a Debian /usr/bin with cargo...)."""
    kept = [
        d for d in os.environ.get("PATH", "").split(os.pathsep)
        if d and not any(os.access(os.path.join(d, tool), os.X_OK) for tool in ("cargo", "rustc"))
    ]
    return os.pathsep.join(kept)


def _env(path: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CARGO", "RUSTC", "PYTHONPATH")}
    env["PATH"] = path
    return env


def test_wheel_without_rust_is_pure_python_and_works(tmp_path: Path) -> None:
    path = _path_without_rust()
    env = _env(path)
    assert shutil.which("cargo", path=path) is None and shutil.which("rustc", path=path) is None
    wheel, log = _build_wheel(_copy_sources(tmp_path), tmp_path / "wheels", env)
    assert "can't find Rust compiler" in log  # setuptools-rust skipped the optional extension, and said why
    names, site = _unpacked(wheel, tmp_path / "site")
    assert "wssc/__init__.py" in names and "wssc/security/compiled.py" in names
    assert not [n for n in names if n.startswith("wssc/_core")], names
    installed, active, where = _run_from(site, env).split()
    assert (installed, active) == ("False", "python")
    assert where.startswith(str(site))  # the wheel's wssc, not the checkout's


@pytest.mark.skipif(shutil.which("cargo") is None, reason="no cargo on PATH: the core cannot be built here")
def test_wheel_with_rust_holds_the_release_core(tmp_path: Path) -> None:
    env = _env(os.environ["PATH"])
    # the checkout's target directory (an editable install filled it) when no other is set: a warm build
    env.setdefault("CARGO_TARGET_DIR", str(ROOT / "rust" / "target"))
    project = _copy_sources(tmp_path)
    wheel, log = _build_wheel(project, tmp_path / "wheels", env)
    assert "-cp310-abi3-" in wheel.name, wheel.name  # one wheel for every CPython >= 3.10 (pyo3 abi3-py310)
    cargo = [line for line in log.splitlines() if "cargo rustc" in line and "wssc-core-py" in line]
    assert cargo and all("--release" in line for line in cargo), log[-3000:]  # never a debug build
    names, site = _unpacked(wheel, tmp_path / "site")
    assert "wssc/_core.abi3.so" in names, names
    installed, active, where = _run_from(site, env).split()
    assert (installed, active) == ("True", "rust")
    assert where.startswith(str(site))
