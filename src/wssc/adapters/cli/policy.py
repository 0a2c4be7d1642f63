"""``wssc policy``: what a WSDL's WS-SecurityPolicy demands, per binding, and what of it wssc cannot do.

Reads WSDL 1.1 documents (and stand-alone ``wsp:Policy`` documents) as WCF, CoreWCF, CXF and Metro publish them;
see :mod:`wssc.policy.wsdl`; from a file, standard input or an http(s) URL.  Malformed or refused documents and
unreachable URLs exit 1 with a one-line error; a policy that asks for what wssc cannot do exits 3.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

import click
import httpx
from cryptography.hazmat.primitives import hashes, serialization

from wssc import namespaces as ns
from wssc.adapters.cli.failures import FriendlyCommand, is_http_url, situation
from wssc.adapters.http_errors import EndpointNotFound, HttpError
from wssc.errors import WsscError
from wssc.policy.parts import MessageParts
from wssc.policy.security_policy import SecurityPolicy, TokenAssertion
from wssc.policy.wsdl import POLICY_LIMITS, BindingPolicy, PortInfo, parse_wsdl

#: ``wssc policy``'s exit status when a binding asks for something wssc cannot do
UNSUPPORTED_EXIT_STATUS: Final = 3
#: seconds to fetch a WSDL, as zeep's default transport timeout
WSDL_TIMEOUT_SECONDS: Final = 300
_SP_LABELS: Final = {ns.SP11: "SP 2005/07", ns.SP12: "SP 1.2"}
_POLICY_FLAGS: Final = (
    ("IncludeTimestamp", "include_timestamp"),
    ("EncryptBeforeSigning", "encrypt_before_signing"),
    ("EncryptSignature", "encrypt_signature"),
    ("ProtectTokens", "protect_tokens"),
    ("OnlySignEntireHeadersAndBody", "only_sign_entire_headers_and_body"),
)
_TOKEN_FLAGS: Final = (
    ("RequireDerivedKeys", "require_derived_keys"),
    ("RequireImpliedDerivedKeys", "require_implied_derived_keys"),
    ("RequireExplicitDerivedKeys", "require_explicit_derived_keys"),
    ("RequireExternalUriReference", "require_external_uri_reference"),
    ("SC10SecurityContextToken", "sc10_security_context_token"),
    ("SC13SecurityContextToken", "sc13_security_context_token"),
    ("MustNotSendCancel", "must_not_send_cancel"),
    ("MustNotSendAmend", "must_not_send_amend"),
    ("MustNotSendRenew", "must_not_send_renew"),
    ("RequireClientCertificate", "require_client_certificate"),
)
_OPTION_SETS: Final = ("wss10", "wss11", "trust10", "trust13")


def _flags(obj: object, table: tuple[tuple[str, str], ...]) -> list[str]:
    return [name for name, attribute in table if getattr(obj, attribute)]


def _parts_json(parts: MessageParts | None) -> dict[str, Any] | None:
    if parts is None:
        return None
    headers = [{"namespace": h.namespace, "name": h.name} for h in parts.headers]
    return {"body": parts.body, "headers": headers, "all_headers": parts.all_headers, "attachments": parts.attachments}


def token_json(token: TokenAssertion) -> dict[str, Any]:
    """A token assertion as JSON, its bootstrap policy included."""
    version = token.sc_version()
    return {
        "kind": token.kind.value,
        "assertion": token.name,
        "include_token": token.include_token.value if token.include_token else None,
        "flags": _flags(token, _TOKEN_FLAGS),
        "sc_version": version.name if version else None,
        "issuer": token.issuer,
        "issuer_name": token.issuer_name,
        "options": sorted(token.options),
        "bootstrap": policy_json(token.bootstrap) if token.bootstrap is not None else None,
        "unknown": list(token.unknown),
    }


def policy_json(policy: SecurityPolicy) -> dict[str, Any]:
    """One policy alternative as JSON (bootstraps recursively; the endpoint's entropy mode is added by
    :func:`binding_json`, as a bootstrap's own Trust assertion may be absent)."""
    version = policy.sc_version()
    return {
        "binding": policy.binding.value if policy.binding else None,
        "binding_namespace": policy.binding_namespace,
        "tokens": [{"role": role.value, **token_json(token)} for role, token in policy.tokens],
        "suite": policy.suite_name,
        "suite_supported": policy.suite is not None,
        "suite_options": sorted(policy.suite_options),
        "layout": policy.layout.value if policy.layout else None,
        "protection_order": policy.order.value,
        "flags": _flags(policy, _POLICY_FLAGS),
        "signed_parts": _parts_json(policy.signed_parts),
        "encrypted_parts": _parts_json(policy.encrypted_parts),
        "supporting_tokens": [
            {
                "category": group.category.value,
                "tokens": [token_json(token) for token in group.tokens],
                "signed_parts": _parts_json(group.signed_parts),
                "encrypted_parts": _parts_json(group.encrypted_parts),
            }
            for group in policy.supporting
        ],
        "policy_tokens": [token_json(token) for token in policy.bare_tokens],
        **{name: sorted(options) if options is not None else None for name, options in _option_sets(policy)},
        "using_addressing": policy.using_addressing,
        "sc_version": version.name if version else None,
        "unknown": list(policy.unknown),
    }


def _option_sets(policy: SecurityPolicy) -> list[tuple[str, frozenset[str] | None]]:
    return [(name, getattr(policy, name)) for name in _OPTION_SETS]


def _port_json(port: PortInfo) -> dict[str, Any]:
    certificate = None
    if port.certificate is not None:
        thumbprint = port.certificate.fingerprint(hashes.SHA256()).hex()
        certificate = {"subject": port.certificate.subject.rfc4514_string(), "sha256": thumbprint}
    return {
        "service": port.service,
        "name": port.name,
        "address": port.address,
        "soap": port.soap.name if port.soap else None,
        "certificate": certificate,
    }


def binding_json(binding: BindingPolicy) -> dict[str, Any]:
    """A binding: its ports, endpoint policy alternatives (with what wssc does not support) and operations."""
    return {
        "name": binding.name,
        "soap": binding.soap.name if binding.soap else None,
        "ports": [_port_json(port) for port in binding.ports],
        "alternatives": [
            {**policy_json(p), "entropy_mode": p.entropy_mode().value, "unsupported": list(p.unsupported())}
            for p in binding.policies
        ],
        "operations": [
            {
                "name": operation.name,
                **{
                    direction: [
                        {"signed_parts": _parts_json(p.signed_parts), "encrypted_parts": _parts_json(p.encrypted_parts)}
                        for p in policies
                    ]
                    for direction, policies in (("input", operation.input), ("output", operation.output))
                },
            }
            for operation in binding.operations
        ],
    }


def _parts_text(parts: MessageParts | None) -> str:
    if parts is None:
        return "nothing"
    items = (["Body"] if parts.body else []) + (["every header"] if parts.all_headers else [])
    items += [
        f"{{{h.namespace}}}{h.name or '*'}" if not h.is_addressing else f"wsa:{h.name or '*'}" for h in parts.headers
    ]
    return ", ".join(items + (["attachments"] if parts.attachments else [])) or "nothing"


def _token_lines(label: str, token: TokenAssertion, indent: str) -> list[str]:
    include = f" [{token.include_token.value}]" if token.include_token else ""
    words = _flags(token, _TOKEN_FLAGS) + (["options: " + " ".join(sorted(token.options))] if token.options else [])
    words += [f"issuer {token.issuer}"] if token.issuer else []
    lines = [f"{indent}{label}: {token.kind.value}{include} {' '.join(words)}".rstrip()]
    if token.bootstrap is not None:
        lines.append(f"{indent}  bootstrap policy:")
        lines += _policy_lines(token.bootstrap, indent + "    ")
    return lines


def _policy_lines(policy: SecurityPolicy, indent: str) -> list[str]:
    if policy.binding is None:
        lines = [f"{indent}no security binding"]
    else:
        label = _SP_LABELS.get(policy.binding_namespace or "", policy.binding_namespace)
        suite = policy.suite_name or "no algorithm suite"
        layout = policy.layout.value if policy.layout else "no layout"
        lines = [f"{indent}{policy.binding.value} ({label}): {suite}, layout {layout}, {policy.order.value}"]
        lines.append(f"{indent}flags: {' '.join(_flags(policy, _POLICY_FLAGS)) or 'none'}")
    for role, token in policy.tokens:
        lines += _token_lines(role.value, token, indent)
    for group in policy.supporting:
        for token in group.tokens:
            lines += _token_lines(group.category.value, token, indent)
    for token in policy.bare_tokens:
        lines += _token_lines("token", token, indent)
    if policy.signed_parts is not None or policy.encrypted_parts is not None:
        lines.append(
            f"{indent}signs {_parts_text(policy.signed_parts)}; encrypts {_parts_text(policy.encrypted_parts)}"
        )
    lines += [
        f"{indent}{name}: {' '.join(sorted(opts)) or '(empty)'}"
        for name, opts in _option_sets(policy)
        if opts is not None
    ]
    return lines


def _port_line(port: PortInfo) -> str:
    soap = f" (SOAP {port.soap.name})" if port.soap else ""
    cert = "no service certificate published"
    if port.certificate is not None:
        cert = "service certificate " + port.certificate.subject.rfc4514_string()
    return f"  port {port.service}/{port.name}: {port.address or '(no address)'}{soap}, {cert}"


def binding_text(binding: BindingPolicy) -> list[str]:
    """The human-readable report of one binding."""
    soap = f" (SOAP {binding.soap.name})" if binding.soap else ""
    lines = [f"binding {binding.name}{soap}"] + [_port_line(port) for port in binding.ports]
    if not binding.policies:
        return [*lines, "  the policy admits no alternative"]
    for number, policy in enumerate(binding.policies, 1):
        if len(binding.policies) > 1:
            lines.append(f"  alternative {number} of {len(binding.policies)}:")
        lines += _policy_lines(policy, "  ")
        version = policy.sc_version()
        addressing = ", WS-Addressing" if policy.using_addressing else ""
        sc = f"WS-SC {version.name}" if version else "no security context"
        lines.append(f"  {sc}, entropy {policy.entropy_mode().value}{addressing}")
        gaps = policy.unsupported()
        if gaps:
            lines += ["  wssc does not support:", *(f"    - {gap}" for gap in gaps)]
        else:
            lines.append("  wssc supports everything this policy demands")
    for operation in binding.operations:
        for direction, policies in (("input", operation.input), ("output", operation.output)):
            for p in policies:
                signs, encrypts = _parts_text(p.signed_parts), _parts_text(p.encrypted_parts)
                lines.append(f"  operation {operation.name} {direction}: signs {signs}; encrypts {encrypts}")
    return lines


def _fetch(url: str, limit: int) -> bytes:
    """GET a WSDL (``...Service.svc?wsdl``) as zeep does: redirects followed, the status honoured, at most
    ``limit`` bytes read."""
    chunks: list[bytes] = []
    with (
        httpx.Client(timeout=WSDL_TIMEOUT_SECONDS, follow_redirects=True) as client,
        client.stream("GET", url) as response,
    ):
        status = response.status_code
        if status == 404:
            raise EndpointNotFound(url, status, f"{url}: HTTP 404, no WSDL at this address")
        if status >= 400:
            raise HttpError(url, status, f"{url}: HTTP {status} {response.reason_phrase}")
        size = 0
        for chunk in response.iter_bytes():
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                break
    return b"".join(chunks)


def _read(source: str, limit: int) -> tuple[str, bytes]:
    """The document's name and bytes: a URL, "-" (standard input) or a file."""
    if "://" in source:
        if not is_http_url(source):
            raise click.BadParameter(f"{source!r} is not an http:// or https:// URL", param_hint="WSDL")
        situation(click.get_current_context()).url = source
        return source, _fetch(source, limit)
    if source != "-" and not Path(source).is_file():
        raise click.BadParameter(f"{source!r}: no such file (nor an http:// or https:// URL)", param_hint="WSDL")
    with click.open_file(source, "rb") as stream:
        return ("<stdin>" if source == "-" else source), stream.read(limit)


def _save_certificate(name: str, bindings: tuple[BindingPolicy, ...], path: str) -> None:
    """The one certificate the ports publish (WCF's ``wsa:EndpointReference/Identity/KeyInfo``), as PEM."""
    found = {
        port.certificate.fingerprint(hashes.SHA256()): port.certificate
        for binding in bindings
        for port in binding.ports
        if port.certificate is not None
    }
    if not found:
        raise click.ClickException(f"{name} publishes no service certificate (no endpoint identity in its ports)")
    if len(found) > 1:
        raise click.ClickException(f"{name} publishes {len(found)} service certificates: choose one with --binding")
    (certificate,) = found.values()
    try:
        Path(path).write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    except OSError as exc:
        raise click.ClickException(f"--save-certificate {path}: cannot write it ({exc.strerror or exc})") from None
    click.echo(f"wrote {path}: {certificate.subject.rfc4514_string()}", err=True)


def _unsupported(binding: BindingPolicy) -> bool:
    """No alternative of the binding is one wssc can speak whole."""
    return not any(not p.unsupported() for p in binding.policies)


@click.command("policy", cls=FriendlyCommand)
@click.argument("wsdl", metavar="WSDL")
@click.option("--binding", "binding_name", default=None, metavar="NAME", help="only this wsdl:binding")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@click.option(
    "--save-certificate",
    "certificate_path",
    default=None,
    metavar="FILE",
    type=click.Path(dir_okay=False, writable=True),
    help="write the service certificate the ports publish (endpoint identity) to FILE, PEM: wssc call --server-cert",
)
def policy(wsdl: str, binding_name: str | None, as_json: bool, certificate_path: str | None) -> None:
    """Show what a WSDL's WS-SecurityPolicy demands, per binding, and what wssc does not support of it.

    WSDL is a WSDL 1.1 file (or a wsp:Policy document), an http(s) URL (a WCF service's .../Service.svc?wsdl)
    or "-" for standard input.  Exit status: 0 when wssc supports an alternative of every binding shown, 3 when
    a binding asks for something wssc cannot do, 1 when the document cannot be read."""
    name, data = _read(wsdl, POLICY_LIMITS.max_message_bytes + 1)  # parse() refuses the excess
    try:
        bindings = parse_wsdl(data)
    except WsscError as exc:
        raise click.ClickException(" ".join(f"{name}: {exc.detail or exc.reason}".split())) from None
    if binding_name is not None:
        bindings = tuple(b for b in bindings if b.name == binding_name)
        if not bindings:
            raise click.ClickException(f"{name} has no binding named {binding_name!r}")
    if as_json:
        click.echo(json.dumps({"document": name, "bindings": [binding_json(b) for b in bindings]}))
    else:
        click.echo("\n\n".join("\n".join(binding_text(b)) for b in bindings) or f"{name} has no bindings")
    if certificate_path is not None:
        _save_certificate(name, bindings, certificate_path)
    if any(_unsupported(b) for b in bindings):
        raise SystemExit(UNSUPPORTED_EXIT_STATUS)
