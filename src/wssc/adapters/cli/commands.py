"""The ``wssc`` command line.  The contract of ``derive``, ``protect``, ``unprotect`` and ``bench`` is stable:
automated checks depend on it (see README)."""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import sys
from datetime import timedelta
from typing import Any

import click

from wssc import versions
from wssc.errors import InvalidSecurity, WsscError
from wssc.primitives import algorithms as alg
from wssc.primitives.psha1 import derive_key
from wssc.security.keys import ContextProtection, SCTReferenceStyle, StaticKeys
from wssc.security.policy import ProtectionPolicy, Requirements
from wssc.security.protect import protect
from wssc.security.unprotect import Receiver
from wssc.tokens.sct import SecurityContextToken, is_absolute_uri
from wssc.versions import DEFAULT_LABEL


def _b64(value: str, name: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise click.BadParameter("not valid base64", param_hint=name) from None


def _read(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    with open(path, "rb") as fh:
        return fh.read()


def _write(path: str, data: bytes) -> None:
    if path == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    with open(path, "wb") as fh:
        fh.write(data)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="wssc")
def main() -> None:
    """WS-SecureConversation for Python: derive keys, protect and verify SOAP messages."""


@main.command()
@click.option("--secret-b64", required=True, help="base secret (base64)")
@click.option("--nonce-b64", required=True, help="wsc:Nonce (base64)")
@click.option("--label", default=DEFAULT_LABEL, show_default=True)
@click.option("--offset", type=click.IntRange(min=0), default=None)
@click.option("--generation", type=click.IntRange(min=0), default=None)
@click.option("--length", type=click.IntRange(min=1, max=1024), default=32, show_default=True, help="bytes")
def derive(
    secret_b64: str, nonce_b64: str, label: str, offset: int | None, generation: int | None, length: int
) -> None:
    """Print the P_SHA1 derived key (WS-SC 1.3 section 7) in base64."""
    if offset is not None and generation is not None:
        raise click.UsageError("--offset and --generation are mutually exclusive")
    start = offset if offset is not None else (generation or 0) * length
    key = derive_key(
        _b64(secret_b64, "--secret-b64"), label.encode("utf-8"), _b64(nonce_b64, "--nonce-b64"), length, start
    )
    click.echo(base64.b64encode(key).decode("ascii"))


@main.command("protect")
@click.option("--key-b64", required=True, help="context key (base64)")
@click.option("--context-id", required=True, help="SCT Identifier (absolute URI)")
@click.option("--sc-version", type=click.Choice(["1.3", "2005-02"]), default="1.3", show_default=True)
@click.option(
    "--suite", type=click.Choice(["Basic256", "Basic128", "Basic256Sha256", "Basic128Sha256"]), default="Basic256"
)
@click.option("--sct-ref", type=click.Choice(["local", "identifier", "external"]), default="local", show_default=True)
@click.option("--sign-only", is_flag=True)
@click.option("--encrypt-only", is_flag=True)
@click.argument("infile", metavar="IN")
@click.argument("outfile", metavar="OUT")
def protect_cmd(
    key_b64: str,
    context_id: str,
    sc_version: str,
    suite: str,
    sct_ref: str,
    sign_only: bool,
    encrypt_only: bool,
    infile: str,
    outfile: str,
) -> None:
    """Secure a SOAP 1.1 or 1.2 envelope with derived keys of a security context."""
    if sign_only and encrypt_only:
        raise click.UsageError("--sign-only and --encrypt-only are mutually exclusive")
    version = versions.by_name(sc_version)
    if not is_absolute_uri(context_id):
        raise click.BadParameter("the context Identifier must be an absolute URI", param_hint="--context-id")
    sct = SecurityContextToken(context_id, wsu_id="SCT-" + secrets.token_hex(8), version=version)
    style: SCTReferenceStyle = (
        "local" if sct_ref == "local" else "identifier" if sct_ref == "identifier" else "external"
    )
    token = ContextProtection(sct, _b64(key_b64, "--key-b64"), style)
    policy = ProtectionPolicy(suite=alg.suite(suite), sign=not encrypt_only, encrypt=not sign_only)
    try:
        out = protect(_read(infile), token, policy, version=version)
    except WsscError as exc:
        raise click.ClickException(f"{exc.prefixed_code}: {exc.detail or exc.reason}") from None
    _write(outfile, out.data)


def _requirements(require: str, context_id: str | None, max_skew: float) -> Requirements:
    wanted = {item.strip() for item in require.split(",") if item.strip()}
    unknown = wanted - {"signature", "encryption", "timestamp", "addressing"}
    if unknown:
        raise click.BadParameter(f"unknown requirement(s): {', '.join(sorted(unknown))}", param_hint="--require")
    signature = "signature" in wanted
    return Requirements(
        signature=signature,
        signed_body=signature,
        protected_body=True,
        timestamp="timestamp" in wanted,
        signed_timestamp=True,
        signed_addressing_headers="addressing" in wanted,
        encrypted_body="encryption" in wanted,
        max_clock_skew=timedelta(seconds=max_skew),
        context_identifier=context_id,
    )


@main.command("unprotect")
@click.option("--key-b64", required=True, help="context key (base64)")
@click.option("--context-id", default=None, help="accept only this context Identifier")
@click.option("--require", default="", help="comma list of: signature, encryption, timestamp, addressing")
@click.option("--max-skew", type=click.FloatRange(min=0), default=300.0, show_default=True, help="seconds")
@click.option("--debug", is_flag=True, help="add the local failure detail to the JSON (never sent by services)")
@click.argument("infile", metavar="IN")
@click.argument("outfile", metavar="OUT")
def unprotect_cmd(
    key_b64: str, context_id: str | None, require: str, max_skew: float, debug: bool, infile: str, outfile: str
) -> None:
    """Verify and decrypt; write the plain envelope and print a JSON verdict."""
    key = _b64(key_b64, "--key-b64")
    requirements = _requirements(require, context_id, max_skew)
    resolver = StaticKeys({context_id: key}) if context_id else StaticKeys(dangerous_any_context_key=key)
    receiver = Receiver(resolver, requirements)
    report: dict[str, Any]
    try:
        result = receiver.unprotect(_read(infile))
        if result.context is None:
            raise InvalidSecurity("the message is not protected by a security context")
    except WsscError as exc:
        report = {"ok": False, "fault": exc.prefixed_code, "reason": exc.reason}
        if debug:
            report["detail"] = exc.detail
        click.echo(json.dumps(report))
        sys.exit(1)
    _write(outfile, result.to_bytes())
    report = {
        "ok": True,
        "context": result.context.identifier,
        "instance": result.context.instance,
        "signed": result.signed_names,
        "encrypted": result.encrypted_names,
        "algorithms": dict(result.algorithms),
    }
    click.echo(json.dumps(report), err=outfile == "-")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@click.option("--seconds", type=click.FloatRange(min=0.1), default=2.0, show_default=True, help="time per measurement")
def bench(as_json: bool, seconds: float) -> None:
    """Time protect and unprotect of 1 KB and 10 KB bodies against the XML floor, in one run."""
    from wssc.adapters.cli.bench import render, run

    results = run(seconds)
    if as_json:
        click.echo(json.dumps(results))
    else:
        render(results)


def _register() -> None:
    from wssc.adapters.cli.call import call, cancel
    from wssc.adapters.cli.demo import demo
    from wssc.adapters.cli.inspect import inspect
    from wssc.adapters.cli.observe import add_options, verbose_option
    from wssc.adapters.cli.policy import policy
    from wssc.adapters.cli.serving import serve

    for command in (serve, call, cancel, demo, policy, inspect):
        main.add_command(command)
    main.params.append(verbose_option())
    add_options(main.commands, traced=("call", "serve", "demo"))


_register()
