"""``wssc inspect FILE [--keylog FILE]``: a captured message (a ``WSSC_TRACE`` file, a proxy capture) shown readably.

Without a key log: its SOAP version, WS-Addressing headers, Timestamp, tokens, what is signed (algorithms, the key's
token) and what is encrypted (algorithm, key), all as the message claims them (:mod:`wssc.security.anatomy`: read,
never trusted, nothing fetched).  With ``--keylog`` (the ``WSSC_KEYLOG`` format, ``CONTEXT <Identifier> <Instance
or -> <base64 key>``, :mod:`wssc.adapters.keylog`): the message verified and decrypted by the same
:class:`~wssc.security.unprotect.Receiver` services use, with those keys, at the time of its own Timestamp (a
capture is older than its five minutes): whether the signature verifies, and the decrypted Body.  Coloured on a
terminal (rich), plain when piped.  Exit 0 when the message was shown (a signature that does not verify is a
finding, shown), 1 when the file is not a SOAP message or the key log cannot be read.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from pathlib import Path

import click
from lxml import etree
from rich.console import Console
from rich.markup import escape

from wssc.errors import WsscError
from wssc.primitives.xsdtime import parse_time
from wssc.security import anatomy
from wssc.security.keys import StaticKeys
from wssc.security.policy import Requirements
from wssc.security.unprotect import Receiver

#: a captured message is verified for what it is, not for what the current policy demands: nothing is required,
#: what is there is checked; a replay cache would refuse the second look at the same file
INSPECTION: Requirements = Requirements(
    signature=False,
    signed_body=False,
    protected_body=False,
    timestamp=False,
    signed_timestamp=False,
    signed_addressing_headers=False,
    detect_replays=False,
)


def read_keylog(path: str) -> StaticKeys:
    """The context keys of a key log file; a line that is not ``CONTEXT id instance key`` is a usage error."""
    instances: dict[tuple[str, str | None], bytes] = {}
    latest: dict[str, bytes] = {}
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise click.BadParameter(
            f"{path}: {getattr(error, 'strerror', None) or error}", param_hint="--keylog"
        ) from None
    for number, line in enumerate(lines, 1):
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        try:
            if len(fields) != 4 or fields[0] != "CONTEXT":
                raise ValueError
            key = base64.b64decode(fields[3], validate=True)
        except (ValueError, binascii.Error):
            message = f"{path} line {number}: expected 'CONTEXT <Identifier> <Instance or -> <base64 key>'"
            raise click.BadParameter(message, param_hint="--keylog") from None
        instance = None if fields[2] == "-" else fields[2]
        instances[(fields[1], instance)] = latest[fields[1]] = key
    return StaticKeys(latest, instances=instances)


def _out(console: Console, label: str, value: str, indent: int = 2) -> None:
    console.print(f"{' ' * indent}[bold]{escape(label)}[/] {escape(value)}")


def show(console: Console, name: str, data: bytes, keys: StaticKeys | None) -> None:
    """Print the anatomy of ``data`` (and, with ``keys``, the verified view)."""
    found = anatomy.read(data)
    kind = "fault" if found.fault else "message"
    console.print(f"[bold cyan]{escape(name)}[/]: SOAP {found.soap} {kind}, {len(data)} bytes")
    if found.addressing:
        console.print("[bold]WS-Addressing[/]")
        for header, value in found.addressing:
            _out(console, header, value or "-")
    if found.timestamp is not None:
        console.print(f"[bold]Timestamp[/] created {found.timestamp[0]}, expires {found.timestamp[1]}")
    if found.tokens:
        console.print("[bold]Tokens[/]")
    for token in found.tokens:
        console.print(f"  [green]{token.kind}[/] {escape(token.id or '(no wsu:Id)')}")
        for field, value in token.fields:
            _out(console, field, value, 4)
    for signature in found.signatures:
        console.print(f"[bold]Signed[/] by {escape(signature.key)}")
        _out(console, "algorithm", signature.algorithm)
        _out(console, "canonicalization", signature.canonicalization)
        for target, uri, digest in signature.references:
            _out(console, target, f"{uri} (digest {digest})", 4)
    for part in found.encrypted:
        console.print(f"[bold]Encrypted[/] {escape(part.part)} {escape(part.id or '')}")
        _out(console, "algorithm", part.algorithm)
        _out(console, "key", part.key)
    if found.body:
        console.print("[bold]Body[/] " + escape(" ".join(found.body)))
    elif any(p.part == "Body content" for p in found.encrypted):
        console.print("[bold]Body[/] encrypted" + ("" if keys else " (give --keylog to read it)"))
    if keys is not None:
        _verified(console, data, found, keys)


def _verified(console: Console, data: bytes, found: anatomy.Anatomy, keys: StaticKeys) -> None:
    if not found.signatures and not found.encrypted:
        console.print("[bold]Key log[/] nothing to verify or decrypt: the message is not protected")
        return
    moment: datetime | None = None
    if found.timestamp is not None:
        try:
            moment = parse_time(found.timestamp[0])
        except WsscError:
            moment = None
    try:
        message = Receiver(keys, INSPECTION).unprotect(data, now=moment)
    except WsscError as error:
        detail = f" ({error.detail})" if error.detail else ""
        console.print(f"[bold]Key log[/] [bold red]cannot verify[/]: {error.prefixed_code}: {escape(error.reason)}")
        console.print(f"  {escape(detail.strip(' ()') or 'no detail')}")
        if not message_under_context(found):
            console.print("  (a key log holds context keys; this message is protected by the bootstrap's keys)")
        return
    context = message.context
    under = f"context {context.identifier} (Instance {context.instance or '-'})" if context else "no context"
    if message.signature is not None:
        console.print(f"[bold]Signature[/] [bold green]verifies[/] with the key of {escape(under)}")
        _out(console, "covers", ", ".join(message.signed_names))
    else:
        console.print(f"[bold]Signature[/] none; decrypted with the key of {escape(under)}")
    if message.encrypted_names:
        _out(console, "decrypted", ", ".join(message.encrypted_names))
    for role, algorithm in sorted(message.algorithms.items()):  # what the (maybe encrypted) Signature used
        _out(console, role, algorithm)
    console.print("[bold]Decrypted Body[/]")
    for element in message.payload():
        console.print(escape(etree.tostring(element, encoding="unicode", pretty_print=True).rstrip()), highlight=False)


def message_under_context(found: anatomy.Anatomy) -> bool:
    return any(t.kind in ("SecurityContextToken", "DerivedKeyToken") for t in found.tokens)


@click.command()
@click.argument("infile", metavar="FILE", type=click.Path(dir_okay=False, allow_dash=True))
@click.option(
    "--keylog",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="a WSSC_KEYLOG file: verify the message and show its decrypted Body",
)
def inspect(infile: str, keylog: str | None) -> None:
    """Show a captured SOAP message: tokens, what is signed and encrypted, with which keys and algorithms."""
    try:
        data = click.open_file(infile, "rb").read()
    except OSError as error:
        raise click.ClickException(f"{infile}: {error.strerror or error}") from None
    keys = read_keylog(keylog) if keylog else None
    console = Console(soft_wrap=True, highlight=False)
    try:
        show(console, "stdin" if infile == "-" else infile, data, keys)
    except WsscError as error:
        raise click.ClickException(f"{infile}: not a SOAP message ({error.detail or error.reason})") from None
