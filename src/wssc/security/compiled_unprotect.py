"""Unprotect through the compiled core (docs/core.md): the glue between ``wssc._core.Incoming`` and a
:class:`~wssc.security.unprotect.Receiver`.

The core parses and verifies; the glue resolves the context keys, checks the Timestamp and the caller's
requirements with the Python path's own functions, checks replays, and builds the
:class:`~wssc.security.result.VerifiedMessage`.  Whatever the core declines, and whatever a check here would
refuse, returns None: the Python path then decides, so every fault is the Python path's.  The lxml view is
built only when the application reads it, and every signed element is checked again on lxml's tree first.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from types import MappingProxyType, ModuleType
from typing import Any, Final

from lxml import etree

from wssc import namespaces as ns
from wssc.errors import InvalidSecurity, WsscError
from wssc.limits import DIGESTED_BYTES_ALLOWANCE, Limits
from wssc.primitives import algorithms as alg
from wssc.primitives.memo import remembered
from wssc.primitives.xml import Element, c14n, parse
from wssc.primitives.xsdtime import parse_time
from wssc.security import compiled, dsig
from wssc.security.coverage import PartsSeen, check_coverage
from wssc.security.dsig import VerifiedSignature
from wssc.security.header import signature_methods
from wssc.security.keys import KeyResolver
from wssc.security.policy import Requirements
from wssc.security.result import ContextRef, KeyOrigin, MessageView, VerifiedMessage, ViewParts
from wssc.security.soap import SOAP11, SOAP12, HeaderBlock, split
from wssc.security.timestamp import Timestamp
from wssc.tokens.reference import STR_TAG, SecurityTokenReference
from wssc.versions import by_sc_namespace

_log = logging.getLogger(__name__)
_SOAP = {SOAP11.namespace: SOAP11, SOAP12.namespace: SOAP12}
_KEY_INFO = ns.qn(ns.DS, "KeyInfo")

#: called with the value a message is remembered by (its signature value, or its first cipher value); raises
#: when it was seen before (the Receiver's replay check)
SeenOnce = Callable[[bytes], None]


def core_limits(limits: Limits) -> dict[str, int]:
    """``wssc.limits.Limits`` as the core reads it (durations in whole seconds), with the digest budget's
    fixed allowance (``Limits.digest_budget``)."""
    fields = {
        name: int(value.total_seconds()) if hasattr(value, "total_seconds") else int(value)
        for name, value in vars(limits).items()
    }
    return fields | {"digested_bytes_allowance": DIGESTED_BYTES_ALLOWANCE}


def core_policy(req: Requirements) -> dict[str, Any]:
    """The algorithms the requirements' suite allows (None: any the core supports), as the core reads them."""
    suite = req.suite
    return {
        "signature_methods": None if suite is None else sorted(signature_methods(suite)),
        "digests": None if suite is None else [suite.digest],
        "ciphers": None if suite is None else [suite.encryption, alg.gcm_variant(suite.encryption)],
        "encrypted_signature": req.encrypted_signature,
    }


#: bound of the memories of :class:`Prepared` (distinct coverage shapes, distinct contexts): cleared when full
_REMEMBERED: Final = 256


class Prepared:
    """What a receiver verifies under, prepared once for its limits and requirements (both frozen), not at every
    message: the core's settings, which shapes of message passed the coverage checks (``check_coverage``
    depends only on its record and the requirements), and the context references made for each context
    (frozen, shared by the messages of one context)."""

    def __init__(self, core: ModuleType, limits: Limits, req: Requirements) -> None:
        self.settings: Any = core.Settings(core_limits(limits), core_policy(req))
        self.requirements = req
        self._covered: set[tuple[Any, ...]] = set()
        self._refs: dict[tuple[tuple[str, str | None, str | None], ...], tuple[ContextRef, ...]] = {}
        self._origins: dict[tuple[ContextRef, bool, bytes], KeyOrigin] = {}
        self._algorithms: dict[tuple[Any, ...], Mapping[str, str]] = {}

    def covered(self, parts: tuple[Any, ...]) -> bool:
        """Whether a message whose parts are ``parts`` (:class:`PartsSeen`'s fields, each header block as the
        record has it: name, signed, encrypted) meets the requirements."""
        if parts in self._covered:
            return True
        timestamp, timestamp_signed, body_signed, body_encrypted, headers = parts
        seen = PartsSeen(
            timestamp,
            timestamp_signed,
            body_signed,
            body_encrypted,
            None if headers is None else tuple((tag, signed) for tag, signed, _ in headers),
        )
        try:
            check_coverage(seen, self.requirements)
        except WsscError:
            return False
        if len(self._covered) >= _REMEMBERED:
            self._covered.clear()
        self._covered.add(parts)
        return True

    def origin(self, ref: ContextRef, derived: bool, key: bytes) -> KeyOrigin:
        """The :class:`KeyOrigin` of a signature by the key of context ``ref`` (derived from it or not)."""
        return remembered(
            self._origins, (ref, derived, key), lambda: KeyOrigin("context", ref, derived, key), _REMEMBERED
        )

    def algorithms(
        self, signature: tuple[str, str, bytes] | None, encryption: str | None, derivation: str | None
    ) -> Mapping[str, str]:
        """The algorithms a message verified with (``VerifiedMessage.algorithms``), read-only: one mapping per
        combination, shared by the messages that used it."""
        methods = None if signature is None else signature[:2]
        return remembered(
            self._algorithms,
            (methods, encryption, derivation),
            lambda: _algorithms(methods, encryption, derivation),
            _REMEMBERED,
        )

    def refs(self, contexts: tuple[tuple[str, str | None, str | None], ...]) -> tuple[ContextRef, ...]:
        """A :class:`ContextRef` for each of ``contexts`` (Identifier, Instance, WS-SC namespace), then the
        message's as the Python path records it: the first reference naming a version, else the first."""
        return remembered(self._refs, contexts, lambda: _refs(contexts), _REMEMBERED)


def _algorithms(methods: tuple[str, str] | None, encryption: str | None, derivation: str | None) -> Mapping[str, str]:
    """:meth:`Prepared.algorithms`, made: ``methods`` the signature's (signature method, digest method)."""
    algorithms = {"c14n": ns.EXC_C14N}
    if methods is not None:
        algorithms["signature"], algorithms["digest"] = methods
    if encryption is not None:
        algorithms["encryption"] = encryption
    version = None if derivation is None else by_sc_namespace(derivation)
    if version is not None:
        algorithms["derivation"] = version.p_sha1
    return MappingProxyType(algorithms)


def _refs(contexts: tuple[tuple[str, str | None, str | None], ...]) -> tuple[ContextRef, ...]:
    """:meth:`Prepared.refs`, made."""
    refs = [ContextRef(identifier, instance, by_sc_namespace(v)) for identifier, instance, v in contexts]
    merged = next((ref for ref in refs if ref.version is not None), refs[0])
    return (*refs, merged)


def _declined(declined: Exception) -> None:
    """Log why the core declined (a panic, never expected, as an error; the reason names no input)."""
    reason = str(declined)
    _log.log(logging.ERROR if reason.startswith("internal error") else logging.DEBUG, "core declined: %s", reason)


def unprotect(
    core: ModuleType,
    data: bytes,
    resolver: KeyResolver,
    prepared: Prepared,
    now: datetime,
    seen_once: SeenOnce,
) -> VerifiedMessage | None:
    """The verified message, or None when the Python path is to decide (declined, or refused by a check)."""
    req = prepared.requirements
    try:
        incoming = core.Incoming.parse(data, prepared.settings)
    except core.Declined as declined:
        _declined(declined)
        return None
    stamp = incoming.timestamp
    timestamp = None
    if stamp is not None:
        try:
            created, expires, stamp_id = stamp
            timestamp = Timestamp(parse_time(created), None if expires is None else parse_time(expires), stamp_id)
            timestamp.check(now, req.max_clock_skew)
        except WsscError:
            return None
    elif req.timestamp:
        return None
    contexts: tuple[tuple[str, str | None, str | None], ...] = tuple(incoming.contexts)
    if not contexts or any(identifier != contexts[0][0] for identifier, _, _ in contexts):
        return None  # one context per message (the Python path's rule), and the core handles only context keys
    if req.context_identifier is not None and contexts[0][0] != req.context_identifier:
        return None
    keys = []
    for identifier, instance, _ in contexts:
        try:
            keys.append(resolver.context_key(identifier, instance))
        except WsscError:
            return None  # unknown, expired, cancelled: the Python path keeps that to the key holder
    try:
        # seen_once runs inside, once the signature value verified and before anything waiting is decrypted:
        # a replayed message is refused there, as on the Python path (its InvalidSecurity comes out of verify)
        record = incoming.verify(keys, prepared.settings, seen_once)
    except core.Declined as declined:
        _declined(declined)
        return None
    return _accept(record, prepared.refs(contexts), keys, prepared, timestamp, seen_once)


def _accept(
    record: Any,
    refs: tuple[ContextRef, ...],
    keys: list[bytes],
    prepared: Prepared,
    timestamp: Timestamp | None,
    seen_once: SeenOnce,
) -> VerifiedMessage | None:
    """The checks the core leaves to the requirements, on its record (the Python path's own, through
    :class:`PartsSeen`), then the verified message.  A signed WS-Addressing header in the Security header was
    declined by the core already (the Python path decides it)."""
    req = prepared.requirements
    (soap, headers, body, timestamp_signed, signature, signature_key, decryption_keys, encryption,
     first_cipher_value, derivation, confirmations, sct_ids, output) = record["accepted"]  # fmt: skip
    if req.signature and signature is None:
        return None
    if signature is None and not decryption_keys and not req.transport_protected:
        return None
    if not prepared.covered((timestamp is not None, timestamp_signed, body[0], body[1], headers)):
        return None
    # (context index, derived) of the signing key, then of each decryption key
    used: tuple[tuple[int, bool], ...] = decryption_keys if signature is None else (signature_key, *decryption_keys)
    derived = any(d for _index, d in used)
    if req.derived_keys and not all(d for _index, d in used):
        return None
    origin = None
    if signature is None:
        if first_cipher_value is not None:
            seen_once(first_cipher_value)  # an encrypt-only message: its first cipher text, as the Python path
    else:
        index, signing_derived = signature_key
        origin = prepared.origin(refs[index], signing_derived, keys[index])
    return VerifiedMessage(
        view=lambda: _view(record, output, headers),
        read=_CoreReading(record),
        soap=_SOAP[soap],
        context=refs[-1] if used else None,
        algorithms=prepared.algorithms(signature, encryption, derivation if derived else None),
        timestamp=timestamp,
        signature_value=None if signature is None else signature[2],
        signature_key=origin,
        signature_confirmations=confirmations,
        header_contexts=sct_ids,
        data=output,
    )


class _CoreReading:
    """What the record says of the envelope without a tree (:class:`~wssc.security.result.TreelessReading`): read
    from the tree the core verified, each item converted when asked."""

    __slots__ = ("_record",)

    def __init__(self, record: Any) -> None:
        self._record = record

    def header_blocks(self) -> tuple[HeaderBlock, ...]:
        return tuple(map(HeaderBlock._make, self._record["header_blocks"]))

    def payload_tags(self) -> tuple[str, ...]:
        tags: tuple[str, ...] = self._record["payload_tags"]
        return tags

    def payload_xml(self) -> tuple[bytes, ...]:
        forms: tuple[bytes, ...] = self._record.payload_xml()
        return forms


def _checked(element: Element, digest_uri: str, digest_value: bytes, prefixes: list[str] | None) -> Element:
    """``element`` after checking that lxml reads it as the core did: its canonical form on lxml's tree (with
    the reference's InclusiveNamespaces PrefixList) has the digest the core verified (docs/core.md, item 4)."""
    if not hmac.compare_digest(dsig.digest_of(digest_uri, c14n(element, prefixes)), digest_value):
        _log.error("lxml and the compiled core read a signed part differently")
        raise InvalidSecurity("the signed parts of the message do not read the same way twice")
    return element


def _read_alike(root: Element, record: Any, output: bytes, has_header: bool) -> bool:
    """Whether lxml reads the core's output as the tree whose digests were verified, in one comparison for the
    whole document (docs/core.md, point 4); False when only the part-by-part check on lxml's tree can tell.

    The core writes its output in canonical form (Canonical XML 1.0 of the whole document).  When lxml's
    canonical form of its parse is those very bytes, lxml's tree and the core's reading of the output give every
    element the same name, in-scope namespaces, attributes and text; and the core's reading of its output has,
    for every signed part, the digest it verified (checked here by the core, which so also vouches for its own
    writer).  A difference there is refused: the output is not what was verified.  lxml may canonicalise
    some well-formed bytes differently (it writes a namespace URI holding "&" unescaped), and a custom limit may
    have let the message grow past the core's defaults: then False, and each signed part is checked on lxml's
    tree on its own."""
    if etree.tostring(root, method="c14n") != output:
        return False
    core = compiled.installed_core()
    assert core is not None  # this record came from it (forced_python or WSSC_PURE_PYTHON since changes nothing)
    try:
        matched: bool = record.output_matches(output, has_header)
    except (core.C14nRefused, LookupError):
        return False
    if not matched:
        _log.error("the compiled core's output is not what it verified")
        raise InvalidSecurity("the signed parts of the message do not read the same way twice")
    return True


def _view(record: Any, output: bytes, headers: tuple[tuple[str, bool, bool], ...] | None) -> MessageView:
    """lxml's parse of the core's output (``output`` and ``headers``, the record's), each signed part of it
    checked again on lxml's tree; the Security header's parts (signed Timestamp, signature) are parsed, and
    checked, only when the application asks."""
    # the depth was checked by the core on the tree this output was written from
    root = parse(output, depth_checked=False)
    env = split(root)
    header_els: list[Element] = [] if env.header is None else [h for h in env.header if isinstance(h.tag, str)]
    if (env.header is None) != (headers is None) or [h.tag for h in header_els] != [t for t, _, _ in headers or ()]:
        _log.error("lxml and the compiled core see different header blocks")
        raise InvalidSecurity("the message does not read the same way twice")

    def in_envelope(part: Sequence[Any]) -> Element:
        return env.body if part[0] == "body" else header_els[part[1]]

    if _read_alike(root, record, output, env.header is not None):
        signed_in_envelope = tuple(in_envelope(part) for part in record["envelope_parts"])
    else:
        signed_in_envelope = tuple(
            _checked(in_envelope(part), digest_uri, digest_value, prefixes)
            for part, _wsu_id, digest_uri, digest_value, prefixes in record["digests"]
            if part[0] != "security"
        )
    return MessageView(
        root, env.header, env.body, parts=lambda: _parts(record, in_envelope), signed_in_envelope=signed_in_envelope
    )


def _parts(record: Any, in_envelope: Callable[[Sequence[Any]], Element]) -> ViewParts:
    """The signed and encrypted elements in the view's order, and the signature (Security header parts
    parsed from their canonical bytes, each checked against the digest the core verified)."""
    security: list[Element] = [parse(canonical) for _, canonical in record["security_parts"]]
    signature = record["signature"]
    signature_el = None if signature is None else parse(record["signature_xml"])

    def element(part: Sequence[Any]) -> Element:
        if part[0] == "security":
            index: int = part[1]
            return security[index]
        if part[0] == "signature" and signature_el is not None:
            return signature_el
        return in_envelope(part)

    references = []
    for part, wsu_id, digest_uri, digest_value, prefixes in record["digests"]:
        el = element(part)
        if part[0] == "security":
            _checked(el, digest_uri, digest_value, prefixes)
        references.append((wsu_id, el))
    verified = None
    if signature is not None and signature_el is not None:
        str_el = signature_el.find(f"{_KEY_INFO}/{STR_TAG}")
        verified = VerifiedSignature(
            signature_el,
            tuple(references),
            signature[0],
            signature[1],
            None if str_el is None else SecurityTokenReference.from_element(str_el),
            signature[2],
        )
    encrypted = tuple(element(part) for part, *_ in record["decryption"])
    return tuple(el for _, el in references), encrypted, verified
