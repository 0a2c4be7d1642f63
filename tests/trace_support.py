"""What a message trace (``WSSC_TRACE``) holds, for the tests that read one."""

from __future__ import annotations

from pathlib import Path

ESTABLISH = ("RST-SCT", "RSTR-SCT")
ECHO = ("echo", "echoResponse")
RENEW = ("RST-SCT-Renew", "RSTR-SCT-Renew")
CANCEL = ("RST-SCT-Cancel", "RSTR-SCT-Cancel")


def wire_names(*exchanges: tuple[str, str]) -> list[str]:
    """The trace's file names of the messages as sent and received, for these exchanges in order."""
    names = []
    for pair in exchanges:
        for direction, label in zip(("request", "response"), pair, strict=True):
            names.append(f"{len(names) + 1:04d}-{direction}-{label}.xml")
    return names


def traced(directory: Path) -> tuple[list[str], list[str]]:
    """The wire files and the decrypted views in ``directory``, each sorted."""
    names = sorted(p.name for p in directory.iterdir())
    return [n for n in names if not n.endswith(".decrypted.xml")], [n for n in names if n.endswith(".decrypted.xml")]
