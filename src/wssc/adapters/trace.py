"""The opt-in message trace: every message as sent and received, and its decrypted view where the key is known,
one file per message, numbered in order, in the directory ``WSSC_TRACE`` (or ``--trace DIR``) names::

    0001-request-RST-SCT.xml              the request as it went over the wire
    0001-request-RST-SCT.decrypted.xml    the same request before it was protected (the client knows it)
    0002-response-RSTR-SCT.xml            the response as it came back
    0002-response-RSTR-SCT.decrypted.xml  the response verified and decrypted

The label after the direction comes from the message's WS-Addressing Action (read, not trusted: it only names
the file).  A client writes its requests and responses; a service (:class:`~wssc.adapters.asgi.WsscApp`) the
requests as received, the decrypted view of the application requests it verified, and its replies as sent.
**Risk**, as the key log (:mod:`wssc.adapters.keylog`): the decrypted views hold the plaintext of every message,
passwords of UsernameTokens included; the directory is created mode 0700 and each file 0600.  Never enable it
in production.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path
from typing import Final, Literal

from lxml import etree

from wssc import namespaces as ns
from wssc.primitives.xml import parse

ENVIRONMENT_VARIABLE: Final = "WSSC_TRACE"
#: the longest label taken from an action (the rest of the file name is the number and the direction)
MAX_LABEL: Final = 48
#: attempts to find a free number when another writer (another process) took the next one
_MAX_CLAIMS: Final = 1000
_NUMBERED = re.compile(r"^(\d{4,})-")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")

Direction = Literal["request", "response"]


def label_of(data: bytes) -> str:
    """A file-name label for a message: ``RST-SCT``, ``RSTR-SCT-Renew``, ``Fault``, the last segment of an
    application action, or ``message`` when the message names none (or is no XML)."""
    try:
        root = parse(data)
    except Exception:  # the label names a file: a message that does not parse is still traced
        return "message"
    header = body = None
    for child in root:
        if isinstance(child.tag, str):
            local = etree.QName(child).localname
            header = child if local == "Header" else header
            body = child if local == "Body" else body
    if body is not None and any(isinstance(c.tag, str) and etree.QName(c).localname == "Fault" for c in body):
        return "Fault"
    action = None
    if header is not None:
        for namespace in ns.WSA_NAMESPACES:
            element = header.find(ns.qn(namespace, "Action"))
            if element is not None and element.text:
                action = element.text.strip()
    if not action:
        return "message"
    marker = next((m for m in ("/RSTRC/", "/RSTR/", "/RST/") if m in action), None)
    text = marker[1:] + action.split(marker, 1)[1] if marker else re.split(r"[/:#]", action.rstrip("/:#"))[-1]
    return _UNSAFE.sub("-", text).strip("-.")[:MAX_LABEL] or "message"


class Tracer:
    """Writes the messages of one party into one directory.  Thread-safe; numbers continue after the files
    already there, and a number another process took is skipped (files are created exclusively)."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._lock = threading.Lock()
        taken = (int(m.group(1)) for m in map(_NUMBERED.match, os.listdir(self.directory)) if m)
        self._next = 1 + max(taken, default=0)
        #: the client's plaintext request, written with the number its protected form gets
        self._pending_plain: bytes | None = None
        self._last_response: tuple[int, str] | None = None

    @classmethod
    def from_environment(cls) -> Tracer | None:
        """The tracer ``WSSC_TRACE`` (or the command line's ``--trace DIR``) asks for, or None."""
        directory = os.environ.get(ENVIRONMENT_VARIABLE)
        return cls(directory) if directory else None

    def reserve(self, count: int = 1) -> int:
        """The first of ``count`` consecutive numbers for this party's messages."""
        with self._lock:
            first = self._next
            self._next += count
            return first

    def write(
        self, number: int, direction: Direction, data: bytes, *, label: str | None = None, decrypted: bool = False
    ) -> Path:
        """Write one file (mode 0600, never over an existing one); returns its path."""
        label = label or label_of(data)
        for _ in range(_MAX_CLAIMS):
            path = self.directory / f"{number:04d}-{direction}-{label}{'.decrypted' if decrypted else ''}.xml"
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:  # another writer took this number: take the next free one
                number = self.reserve()
                continue
            try:
                os.write(fd, data)
            finally:
                os.close(fd)
            return path
        raise OSError(f"no free trace file name in {self.directory}")

    # -- the client's side: plaintext, wire request, wire response, decrypted response --------------------------
    def plaintext(self, direction: str, data: bytes) -> None:
        """The client session's hook: a request envelope before protection, a response after verification."""
        if direction == "request":
            self._pending_plain = data
        elif self._last_response is not None:
            number, label = self._last_response
            self._last_response = None
            self.write(number, "response", data, label=label, decrypted=True)

    def sent(self, data: bytes) -> None:
        """A request as it goes over the wire (with the plaintext the session built before, if any)."""
        plain, self._pending_plain = self._pending_plain, None
        number, label = self.reserve(), label_of(data)
        number = _number_of(self.write(number, "request", data, label=label))
        if plain is not None:
            self.write(number, "request", plain, label=label, decrypted=True)

    def received(self, data: bytes) -> None:
        """A response as it came back; its decrypted view follows through :meth:`plaintext`."""
        label = label_of(data)
        path = self.write(self.reserve(), "response", data, label=label)
        self._last_response = (_number_of(path), label)


def _number_of(path: Path) -> int:
    return int(path.name.split("-", 1)[0])
