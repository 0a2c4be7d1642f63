"""Incoming message processing: verify and decrypt a protected SOAP envelope (WSS 1.1 sections 5-10).

A :class:`Receiver` parses the envelope with the hardened parser, finds the one wsse:Security header meant
for it, has :class:`~wssc.security.header.HeaderProcessor` verify and decrypt it, then checks the caller's
:class:`Requirements` against what was proven (coverage, one context, derived keys, replay) and returns
only that (:class:`VerifiedMessage`).
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from types import MappingProxyType, ModuleType
from typing import Final, TypeVar

from lxml import etree

from wssc import namespaces as ns
from wssc.errors import (
    BadContextToken,
    InvalidSecurity,
    WsscError,
)
from wssc.limits import DEFAULT_LIMITS, Limits
from wssc.primitives.xml import Element, check_depth, parse, remove_keeping_tail
from wssc.security import compiled, compiled_unprotect, xmlenc
from wssc.security.coverage import PartsSeen, check_coverage
from wssc.security.dsig import VerifiedSignature
from wssc.security.header import HeaderProcessor, check_binding
from wssc.security.keys import KeyResolver
from wssc.security.policy import Requirements
from wssc.security.replay import InMemoryReplayCache, ReplayCache, replay_check, replay_retention
from wssc.security.result import MessageView, SupportingToken, VerifiedMessage
from wssc.security.soap import Envelope, split

_SECURITY = ns.qn(ns.WSSE, "Security")
T = TypeVar("T")


def _find_security(env: Envelope) -> Element:
    if env.header is None:
        raise InvalidSecurity("no SOAP Header")
    role_attrs = (ns.qn(ns.SOAP11, "actor"), ns.qn(ns.SOAP12, "role"))
    ours = [
        h
        for h in env.header.iterchildren(_SECURITY)
        if not any(
            h.get(a) not in (None, "", "http://www.w3.org/2003/05/soap-envelope/role/ultimateReceiver")
            for a in role_attrs
        )
    ]
    if len(ours) != 1:
        raise InvalidSecurity("expected exactly one wsse:Security header for this receiver")
    return ours[0]


@dataclasses.dataclass
class Attempt:
    """One message's verification under way (:meth:`Receiver.attempt`)."""

    now: datetime
    #: the replay check of this message, shared by the compiled core and the Python path
    seen_once: Callable[[bytes], None]
    #: the compiled core was tried and declined: only the Python path is left
    core_declined: bool = False


#: What malformed input that slipped past a check raises: still only a bad message (the last line of defence).
_BAD_INPUT: Final = (
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    AssertionError,
    OverflowError,
    etree.LxmlError,
)


def _bad_input_refused(work: Callable[[], T]) -> T:
    """``work()``, where malformed input that slipped past a check (the last line of defence) is still only a
    bad message: wsse:InvalidSecurity, never another exception."""
    try:
        return work()
    except WsscError:
        raise
    except _BAD_INPUT as exc:
        raise InvalidSecurity(f"{type(exc).__name__}: {exc}") from None


class Receiver:
    """Verifies incoming messages for one endpoint; holds the replay cache those messages share."""

    def __init__(
        self,
        resolver: KeyResolver,
        requirements: Requirements | None = None,
        *,
        limits: Limits = DEFAULT_LIMITS,
        replay_cache: ReplayCache | None = None,
    ) -> None:
        self.resolver = resolver
        self.requirements = requirements or Requirements()
        self.limits = limits
        # ``is None``, not ``or``: an empty cache is falsy (``__len__``), and a given cache must be shared.
        self.replay_cache: ReplayCache = InMemoryReplayCache() if replay_cache is None else replay_cache
        self._core_cache: tuple[Limits, Requirements, compiled_unprotect.Prepared] | None = None
        #: the requirements and how long they keep a value in the replay cache (replay_retention)
        self._retention: tuple[Requirements, timedelta] | None = None

    def unprotect(
        self, data: bytes | Element, *, now: datetime | None = None, attempt: Attempt | None = None
    ) -> VerifiedMessage:
        """Verify and decrypt ``data``; raises a :class:`~wssc.errors.WsscError` subclass on any failure.

        ``attempt`` continues one that :meth:`unprotect_compiled` began (its time and replay check), where
        the compiled core declined: the Python path decides, as within one call."""
        attempt = attempt if attempt is not None else self.attempt(now)
        if not attempt.core_declined:
            verified = self.unprotect_compiled(data, attempt)
            if verified is not None:
                return verified
        return _bad_input_refused(lambda: self._unprotect(data, attempt.now, attempt.seen_once))

    def attempt(self, now: datetime | None = None) -> Attempt:
        """The start of one message's verification: its time and its replay check, which a compiled attempt
        and the Python path after it share (a value admitted once is not a replay of itself)."""
        now = now or datetime.now(timezone.utc)
        return Attempt(now, self._seen_once(now))

    def unprotect_compiled(self, data: bytes | Element, attempt: Attempt) -> VerifiedMessage | None:
        """:meth:`unprotect` by the compiled core alone, bounded work for a message of bounded size: the
        verified message, or None when the core is absent or declined, or ``data`` is a tree (then
        ``unprotect(data, attempt=attempt)`` decides, on the Python path).  Raises what the core's walk refuses
        for good: a replayed message."""
        return _bad_input_refused(lambda: self._compiled(data, attempt))

    def _compiled(self, data: bytes | Element, attempt: Attempt) -> VerifiedMessage | None:
        core = compiled.core()
        verified = None
        if core is not None and isinstance(data, bytes):
            verified = compiled_unprotect.unprotect(
                core, data, self.resolver, self._prepared(core), attempt.now, attempt.seen_once
            )
        attempt.core_declined = verified is None
        return verified

    def _prepared(self, core: ModuleType) -> compiled_unprotect.Prepared:
        """The limits and requirements as the compiled core's glue reads them, prepared once per pair of
        objects (both are frozen; comparing them field by field each message cost more than the conversion)."""
        cached = self._core_cache
        if cached is None or cached[0] is not self.limits or cached[1] is not self.requirements:
            cached = self._core_cache = (
                self.limits,
                self.requirements,
                compiled_unprotect.Prepared(core, self.limits, self.requirements),
            )
        return cached[2]

    def _seen_once(self, now: datetime) -> Callable[[bytes], None]:
        """The replay check of one ``unprotect`` call, shared by the compiled core's attempt and the Python path
        (which decides a message the core declined after this check admitted its value: not a replay).

        A signature value, or for an unsigned message its first cipher text (random IV), is accepted once,
        remembered as long as the Timestamp checks could pass it, whatever its Expires (replay.py).  Checked as
        soon as the value is verified, before the Body is decrypted or digested: a captured message with
        altered parts is refused as a replay, not decrypted (no oracle, no second try)."""
        req = self.requirements
        if not req.detect_replays:
            return _nothing_to_remember
        retention = self._retention
        if retention is None or retention[0] is not req:
            retention = self._retention = (req, replay_retention(req.max_clock_skew))
        return replay_check(self.replay_cache, now, retention[1])

    def _unprotect(self, data: bytes | Element, now: datetime, seen_once: Callable[[bytes], None]) -> VerifiedMessage:
        req = self.requirements
        root = parse(data, self.limits) if isinstance(data, bytes) else data
        env = split(root)
        security = _find_security(env)
        size = len(data) if isinstance(data, bytes) else None

        proc = HeaderProcessor(root, env, security, self.resolver, req, self.limits, now, size, seen_once)
        proc.run()
        if proc.decrypted:
            check_depth(root, self.limits.max_xml_depth)  # decrypted fragments were parsed unchecked
        for leftover in root.iter(xmlenc.ED_TAG):
            raise InvalidSecurity(f"EncryptedData {leftover.get('Id')!r} was not decrypted")

        primary = proc.primary
        signed: tuple[Element, ...] = ()
        if primary is not None:
            # a signed EncryptedData is replaced by the element it held, in its place (the EncryptedData left
            # the message); plaintext it held otherwise (Content) follows
            signed = tuple(proc.plaintext_of.get(el, el) for _, el in primary[0].references)
            signed += tuple(
                el for s, el in proc.signed_plaintext if s is primary[0] and not any(el is x for x in signed)
            )
        endorsing = tuple((s, k.origin) for s, k in proc.signatures if primary is not None and s is not primary[0])
        if req.signature and primary is None:
            raise InvalidSecurity("the message is not signed")
        if primary is None and not proc.decrypted and not req.transport_protected:
            raise InvalidSecurity("the message is neither signed nor encrypted")
        token = _authenticating_token(proc)
        _check_coverage(env, proc, signed, req)

        used = [k for _, _, k in proc.decrypted] + ([] if primary is None else [primary[1]])
        contexts = {k.origin.context.identifier for k in used if k.origin.context is not None}
        contexts |= set(proc.tokens.contexts) if contexts else set()
        if len(contexts) > 1:
            raise InvalidSecurity("keys of more than one context in one message")
        if req.derived_keys and any(not k.origin.derived for k in used):
            raise InvalidSecurity("derived keys are required")
        context = proc.tokens.contexts[next(iter(contexts))] if contexts else None
        if req.context_identifier is not None and (context is None or context.identifier != req.context_identifier):
            raise BadContextToken("the message is not protected by the expected context")
        if context is not None and token == "context:" + context.identifier:
            state = proc.tokens.context_states.get(context.identifier)
            if state is not None:
                raise state  # an encrypt-only message under a context that is not live

        if primary is None and proc.first_cipher_value is not None:
            seen_once(proc.first_cipher_value)
        _remember_username_nonces(self.replay_cache, proc, now, req)

        # where a decrypted part's move could have changed a prefix, the application reads the tree the
        # decrypted parts were parsed into instead, every prefix as the sender wrote it (decrypted_document)
        counterpart = proc.decrypted_document.counterpart
        if proc.decrypted_document.copy is not None:
            root = proc.decrypted_document.copy
            env = split(root)
        held = [*signed, *(el for el, _, _ in proc.decrypted), *(s.element for s, _ in proc.signatures)]
        kept: dict[Element, Element] = {
            **{encrypted: counterpart(plain) for encrypted, plain in proc.plaintext_of.items()},
            **_kept_from(security, held, counterpart),
        }
        viewed = [*held, *(el for s, _ in proc.signatures for _, el in s.references)]
        # each found before the Security header leaves the tree: a path taken after would miss by one
        final = {el: kept[el] if el in kept else counterpart(el) for el in viewed}.__getitem__
        # the text after the header stays (lxml's remove() takes it along): only the Security header leaves,
        # as on the compiled core's path (found by its differential run)
        remove_keeping_tail(counterpart(security))
        algorithms: dict[str, str] = {"c14n": ns.EXC_C14N}
        if primary is not None:
            algorithms["signature"] = primary[0].method
            algorithms["digest"] = primary[0].digest
        if proc.decrypted:
            algorithms["encryption"] = proc.decrypted[0][1]
        if proc.tokens.derivation_version is not None and any(k.origin.derived for k in used):
            algorithms["derivation"] = proc.tokens.derivation_version.p_sha1
        return VerifiedMessage(
            view=MessageView(
                envelope=root,
                header=env.header,
                body=env.body,
                signed=tuple(final(el) for el in signed),
                encrypted=tuple(final(el) for el, _, _ in proc.decrypted),
                signature=None if primary is None else _with_kept(primary[0], final),
            ),
            soap=env.soap,
            context=context,
            algorithms=MappingProxyType(algorithms),  # read-only, as the compiled path's (shared there)
            timestamp=proc.timestamp,
            signature_value=None if primary is None else primary[0].value,
            signature_key=None if primary is None else primary[1].origin,
            endorsing=tuple((_with_kept(s, final), origin) for s, origin in endorsing),
            # only what the message signature covers counts as confirmed (WSS 1.1 section 8.5)
            signature_confirmations=tuple(v for v, el in proc.confirmations if any(el is s for s in signed)),
            username_tokens=tuple(
                SupportingToken(token, any(el is s for s in signed), any(el is d for d, _, _ in proc.decrypted))
                for token, el in proc.usernames
            ),
            header_contexts=dict(proc.tokens.sct_ids),
        )


def _nothing_to_remember(_value: bytes) -> None:
    """The replay check of a receiver whose requirements detect no replays."""


def _kept_from(
    security: Element, held: list[Element], counterpart: Callable[[Element], Element]
) -> dict[Element, Element]:
    """Copies of the Security header's elements the view holds (``held``: signed parts, decrypted ones,
    signatures; of their ``counterpart`` in the tree the view is), taken before the header leaves the tree:
    lxml then strips the declarations its ancestors repeat under another prefix and re-prefixes what it holds
    (``c:SecurityContextToken`` becoming ``wsc:...``), so the elements would no longer read as what was
    signed; a deep copy keeps every prefix (found by the compiled core's differential test)."""
    return {el: copy.deepcopy(counterpart(el)) for el in held if el.getparent() is security}


def _with_kept(signature: VerifiedSignature, final: Callable[[Element], Element]) -> VerifiedSignature:
    """``signature`` with its element and references as the view holds them (``final``)."""
    return dataclasses.replace(
        signature,
        element=final(signature.element),
        references=tuple((wsu_id, final(el)) for wsu_id, el in signature.references),
    )


def _remember_username_nonces(cache: ReplayCache, proc: HeaderProcessor, now: datetime, req: Requirements) -> None:
    """A UsernameToken Nonce is accepted once while its token is fresh (UsernameToken Profile 1.1 section 4);
    WCF's own tokens carry none and are bound to their message's key and Timestamp instead."""
    if not req.detect_replays:
        return
    for token, _ in proc.usernames:
        if token.nonce is not None:
            key = hashlib.sha256(b"wsse:UsernameToken/Nonce\0" + token.nonce).digest()
            if not cache.add(key, now + replay_retention(req.max_clock_skew), now):
                raise InvalidSecurity("replayed UsernameToken")


def _authenticating_token(proc: HeaderProcessor) -> str | None:
    """The one token the message is bound to, after checking that everything believed is bound to it.

    Symmetric binding (the message signature is an HMAC): every decryption key comes from the signature's
    token.  Asymmetric binding (an RSA signature, WCF MutualCertificate): the parts are encrypted under one
    EncryptedKey, and decrypted content counts as signed only where its plaintext was digested (see
    :meth:`HeaderProcessor.decrypt`).  Unsigned (encrypt-only) messages: the one decryption token."""
    primary = proc.primary
    decryption = proc.decryption_token
    if primary is None:
        return decryption
    if decryption is not None:
        check_binding(primary[1], decryption)  # parts decrypted before the signature was met (the signature)
    return primary[1].token


def _check_signed_position(element: Element, env: Envelope, security: Element) -> None:
    """What a signature covers must sit where the message parts it stands for sit (WS-SP 1.2 section 4.1,
    SignedParts: the Body and whole header blocks): the Body, a header block, an element of the Security
    header (Timestamp, tokens, confirmations), or the content of the Body.  A signed element anywhere else
    was moved there (a signed wsa:Action wrapped in another header, say), and believing it would let the
    message say something its signer did not."""
    parent = element.getparent()
    if element is env.body or parent is None or parent is env.header:
        return  # (no parent: a signed EncryptedData, decrypted since)
    if etree.QName(element).namespace in ns.WSA_NAMESPACES and parent is not security:
        raise InvalidSecurity("a signed WS-Addressing header outside the SOAP Header")
    if parent is not env.body and parent is not security:
        raise InvalidSecurity("a signed element outside the Body, the header blocks and the Security header")


def _check_coverage(env: Envelope, proc: HeaderProcessor, signed: tuple[Element, ...], req: Requirements) -> None:
    def is_signed(el: Element) -> bool:
        return any(el is s for s in signed)

    for element in signed:
        _check_signed_position(element, env, proc.security)
    headers = None
    if env.header is not None:
        headers = tuple((h.tag, is_signed(h)) for h in env.header if isinstance(h.tag, str) and h is not proc.security)
    parts = PartsSeen(
        timestamp=proc.timestamp is not None,
        timestamp_signed=proc.timestamp_el is not None and is_signed(proc.timestamp_el),
        body_signed=is_signed(env.body),
        body_encrypted=any(el is env.body for el, _, _ in proc.decrypted),
        headers=headers,
    )
    check_coverage(parts, req)


def unprotect(
    data: bytes | Element,
    resolver: KeyResolver,
    requirements: Requirements | None = None,
    *,
    limits: Limits = DEFAULT_LIMITS,
    now: datetime | None = None,
) -> VerifiedMessage:
    """One-shot :meth:`Receiver.unprotect`; replay detection then spans only this call."""
    return Receiver(resolver, requirements, limits=limits).unprotect(data, now=now)
