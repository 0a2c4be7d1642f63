"""docs/wcf.md: every row it calls supported names the tests that back it, and those tests exist (issue 10)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WCF = ROOT / "docs" / "wcf.md"


def rows() -> list[list[str]]:
    """The cells of the binding table's rows."""
    table = WCF.read_text().split("## Bindings and settings", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("|---")]
    return [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in lines[1:]]


def test_every_supported_row_names_existing_tests() -> None:
    checked = 0
    for cells in rows():
        tested = cells[-1]
        text = " ".join(cells)
        if "**not supported**" in text or "**untested**" in text or "nothing for wssc to do" in text:
            continue
        files = re.findall(r"`(tests/[\w/]+\.py)`", tested)
        assert files, f"no test named for {cells[:3]}"
        for name in files:
            assert (ROOT / name).is_file(), name
        checked += 1
    assert checked >= 10


def test_every_test_file_the_page_names_exists() -> None:
    for name in set(re.findall(r"`(tests/[\w/]+\.py)`", WCF.read_text())):
        assert (ROOT / name).is_file(), name
