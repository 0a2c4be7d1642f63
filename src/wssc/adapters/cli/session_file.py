"""``wssc call --save-session FILE`` and ``wssc cancel --session FILE``: a live context in a JSON file.

The file holds the context key: whoever reads it can act under the context until it expires or is cancelled.  It
is written owner-only (mode 0600) from its creation: a new file in the same directory, opened with ``O_EXCL`` and
mode 0600 (never readable by others, even for a moment, whatever the umask), then renamed over FILE.  Its fields:
``url``, ``sc_version``, ``soap``, ``suite``, ``identifier``, ``instance``, ``key`` (base64), ``created`` and
``expires`` (ISO 8601), ``sct`` (the token as issued, XML, echoed verbatim on cancel: a cookie-mode token carries
the context in it).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

import click
from lxml import etree

from wssc import versions
from wssc.conversation.context import SecurityContext
from wssc.errors import WsscError
from wssc.primitives.xml import parse
from wssc.security.soap import SOAP11, SOAP12, SOAPVersion
from wssc.tokens.sct import SecurityContextToken

#: owner read and write, nothing for group and others
SESSION_FILE_MODE: Final = 0o600
#: the largest session file read back (an SCT with cookie and claims is a few kilobytes)
MAX_SESSION_FILE_BYTES: Final = 1 << 20
FORMAT: Final = "wssc-session-1"


@dataclass(frozen=True)
class SavedSession:
    """What ``wssc cancel --session`` needs: where, in which versions, and the context itself."""

    url: str
    soap: SOAPVersion
    suite: str
    context: SecurityContext


def save_session(path: str, url: str, soap: SOAPVersion, suite: str, context: SecurityContext) -> None:
    """Write the session to ``path``, owner-only from creation, replacing any file there."""
    record = {
        "format": FORMAT,
        "url": url,
        "sc_version": context.version.name,
        "soap": soap.name,
        "suite": suite,
        "identifier": context.identifier,
        "instance": context.instance,
        "key": base64.b64encode(context.key).decode(),
        "created": context.created.isoformat(),
        "expires": context.expires.isoformat(),
        "sct": etree.tostring(context.token.to_element(), encoding="unicode") if context.token else None,
    }
    target = Path(path)
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SESSION_FILE_MODE)
        with os.fdopen(fd, "w") as out:
            json.dump(record, out, indent=1)
            out.write("\n")
        os.replace(temporary, target)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise click.ClickException(f"--save-session {path}: cannot write it ({exc.strerror or exc})") from None


def load_session(path: str) -> SavedSession:
    """Read a file :func:`save_session` wrote; anything else is refused naming the file."""
    try:
        with open(path, "rb") as source:
            data = source.read(MAX_SESSION_FILE_BYTES + 1)
    except OSError as exc:
        raise click.ClickException(f"--session {path}: cannot read it ({exc.strerror or exc})") from None
    try:
        if len(data) > MAX_SESSION_FILE_BYTES:
            raise ValueError("too large")
        record = json.loads(data)
        if not isinstance(record, dict) or record.get("format") != FORMAT:
            raise ValueError("not written by wssc call --save-session")
        version = versions.by_name(record["sc_version"])
        soap = {SOAP11.name: SOAP11, SOAP12.name: SOAP12}[record["soap"]]
        token = SecurityContextToken.from_element(parse(record["sct"].encode())) if record.get("sct") else None
        context = SecurityContext(
            str(record["identifier"]),
            base64.b64decode(record["key"], validate=True),
            datetime.fromisoformat(record["created"]),
            datetime.fromisoformat(record["expires"]),
            version,
            record.get("instance"),
            token=token,
        )
        return SavedSession(str(record["url"]), soap, str(record["suite"]), context)
    except (ValueError, KeyError, TypeError, binascii.Error, WsscError) as exc:
        problem = str(exc) if isinstance(exc, ValueError) else f"missing or bad field {exc}"
        raise click.ClickException(f"--session {path}: not a wssc session file ({problem})") from None
