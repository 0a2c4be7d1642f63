"""pytest wiring for the Apache WSS4J interoperability tests.

Provides the session-scoped ``wss4j`` fixture (one JVM for the whole session)
and the ``interop`` marker, applied to every test in this folder.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_HERE = Path(__file__).resolve().parent
if str(_HERE) not in sys.path:  # works with every pytest --import-mode
    sys.path.insert(0, str(_HERE))

from wss4j import WSS4J, build_driver, missing_prerequisites  # noqa: E402

BUILD_DIR = _HERE / ".build"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "interop: interoperability tests against Apache WSS4J 1.6 (need a JDK and Debian's libwss4j-java)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.interop)


@pytest.fixture(scope="session")
def wss4j() -> Iterator[WSS4J]:
    missing = missing_prerequisites()
    if missing:
        message = "WSS4J interop prerequisites missing: " + "; ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    driver = WSS4J(build_driver(BUILD_DIR))
    try:
        yield driver
    finally:
        driver.close()
