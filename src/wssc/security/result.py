"""What verification returns: only what was verified (the signxml model).

Application code reads the Body, headers and claims from a :class:`VerifiedMessage`, never from the raw
envelope, so a signature-wrapping attack has nothing to substitute.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from cryptography import x509
from lxml import etree

from wssc.primitives.xml import Element, ElementXML, serialize, standalone_c14n
from wssc.security.dsig import VerifiedSignature
from wssc.security.soap import HeaderBlock, SOAPVersion, header_blocks
from wssc.security.timestamp import Timestamp
from wssc.tokens.username import UsernameToken
from wssc.versions import SCVersion


@dataclass(frozen=True)
class ContextRef:
    """The security context a message was protected with (WS-SC 1.3 section 3)."""

    identifier: str
    instance: str | None
    version: SCVersion | None


@dataclass(frozen=True)
class KeyOrigin:
    """Where a signing or decryption key came from."""

    #: "context", "encrypted-key" or "x509"
    kind: str
    context: ContextRef | None = None
    derived: bool = False
    #: the secret of the base token, for a responder that must answer under the same key (never logged)
    base_secret: bytes | None = field(default=None, repr=False)
    #: EncryptedKeySHA1 of the base token, when it is an EncryptedKey
    encrypted_key_sha1: bytes | None = None
    #: the certificate whose key signed, for X.509 signatures (endorsing tokens, Amend)
    certificate: x509.Certificate | None = None


@dataclass(frozen=True)
class SupportingToken:
    """A UsernameToken found in the header, with how it was protected (the caller checks the password)."""

    token: UsernameToken
    signed: bool
    encrypted: bool


#: what a view adds on demand to its envelope: (signed, encrypted, signature)
ViewParts = tuple[tuple[Element, ...], tuple[Element, ...], "VerifiedSignature | None"]


class MessageView:
    """The verified message as lxml elements: what the application reads.

    ``signed``, ``encrypted`` and ``signature`` are either given or built by ``parts`` when first read (the
    compiled core's glue parses the Security header's parts only for an application that asks for them).
    """

    def __init__(
        self,
        envelope: Element,
        header: Element | None,
        body: Element,
        signed: tuple[Element, ...] = (),
        encrypted: tuple[Element, ...] = (),
        signature: VerifiedSignature | None = None,
        *,
        parts: Callable[[], ViewParts] | None = None,
        signed_in_envelope: tuple[Element, ...] = (),
    ) -> None:
        self.envelope, self.header, self.body = envelope, header, body
        self._parts: ViewParts | None = None if parts is not None else (signed, encrypted, signature)
        self._load_parts = parts
        #: with ``parts``: the signed elements of the envelope itself, known (and checked) before the parts
        self._signed_in_envelope = signed_in_envelope

    def is_signed(self, element: Element) -> bool:
        """Whether the primary signature covers ``element`` (an element of the envelope is answered without
        building the Security header's parts)."""
        if self._parts is None and element.getroottree().getroot() is self.envelope:
            return any(element is e for e in self._signed_in_envelope)
        return any(element is e for e in self.signed)

    def _loaded(self) -> ViewParts:
        if self._parts is None:
            assert self._load_parts is not None
            self._parts = self._load_parts()
            self._load_parts = None
        return self._parts

    @property
    def signed(self) -> tuple[Element, ...]:
        """Elements covered by the primary signature, in reference order."""
        return self._loaded()[0]

    @property
    def encrypted(self) -> tuple[Element, ...]:
        """Elements whose content (Body) or self (headers, signature) was decrypted."""
        return self._loaded()[1]

    @property
    def signature(self) -> VerifiedSignature | None:
        return self._loaded()[2]


class TreelessReading(Protocol):
    """What the compiled core read of a message it verified, handed over without an lxml tree
    (:mod:`wssc.security.compiled_unprotect`)."""

    def header_blocks(self) -> tuple[HeaderBlock, ...]: ...

    def payload_tags(self) -> tuple[str, ...]: ...

    def payload_xml(self) -> tuple[bytes, ...]: ...


class VerifiedMessage:
    """Only what verification proved (the signxml model): the lxml view of the message, its context, keys,
    algorithms and Timestamp.

    The view is either given (the Python path verified lxml's tree itself) or built on first use from the
    compiled core's output, with every signed element's digest checked again on lxml's tree
    (:mod:`wssc.security.compiled_unprotect`, docs/core.md); :meth:`to_bytes` then hands back the core's
    output, in which every signed part is the canonical bytes whose digest was verified.
    """

    def __init__(
        self,
        *,
        view: MessageView | Callable[[], MessageView],
        soap: SOAPVersion,
        context: ContextRef | None,
        algorithms: Mapping[str, str],
        timestamp: Timestamp | None,
        signature_value: bytes | None,
        signature_key: KeyOrigin | None,
        endorsing: tuple[tuple[VerifiedSignature, KeyOrigin], ...] = (),
        signature_confirmations: tuple[bytes | None, ...] = (),
        username_tokens: tuple[SupportingToken, ...] = (),
        header_contexts: Mapping[str, str] | None = None,
        data: bytes | None = None,
        read: TreelessReading | None = None,
    ) -> None:
        self._view = view if isinstance(view, MessageView) else None
        self._load = None if isinstance(view, MessageView) else view
        self._data = data
        self._read = read
        self._blocks: tuple[HeaderBlock, ...] | None = None
        self.soap = soap
        self.context = context
        self.algorithms = algorithms
        self.timestamp = timestamp
        self.signature_value = signature_value
        self.signature_key = signature_key
        self.endorsing = endorsing
        self.signature_confirmations = signature_confirmations
        self.username_tokens = username_tokens
        #: wsu:Id -> Identifier of the SCTs the Security header carried (for ``#id`` references in the Body)
        self.header_contexts: Mapping[str, str] = dict(header_contexts or {})

    def header_blocks(self) -> tuple[HeaderBlock, ...]:
        """The header blocks, the Security header gone (:class:`~wssc.security.soap.HeaderBlock`: name,
        mustUnderstand, role, text, signed), read from the compiled core's tree where it verified the message,
        without building the view."""
        if self._blocks is None:
            read = self._read
            self._blocks = (
                header_blocks(self.header, self.soap, self.is_signed) if read is None else read.header_blocks()
            )
        return self._blocks

    def payload_tags(self) -> tuple[str, ...]:
        """The Clark names of the Body's child elements (read as :meth:`header_blocks` is)."""
        read = self._read
        return tuple(str(child.tag) for child in self.payload()) if read is None else read.payload_tags()

    def payload_xml(self) -> tuple[ElementXML, ...]:
        """Each of the Body's child elements on its own: its Canonical XML with every namespace in scope declared
        on it, for an application that answers or forwards the payload without reading it into a tree.  Where
        the compiled core verified the message, written from the core's own verified tree: no second parser
        reads the message and no view is built (docs/core.md, point 5).
        :func:`~wssc.security.addressing.envelope` writes them into an answer as they are."""
        read = self._read
        if read is None:
            return tuple(ElementXML(standalone_c14n(child)) for child in self.payload())
        return tuple(ElementXML(form) for form in read.payload_xml())

    def view(self) -> MessageView:
        """The lxml elements of the message (built, and checked, on first use for the compiled core)."""
        if self._view is None:
            assert self._load is not None
            self._view = self._load()
            self._load = None
        return self._view

    @property
    def envelope(self) -> Element:
        return self.view().envelope

    @property
    def header(self) -> Element | None:
        return self.view().header

    @property
    def body(self) -> Element:
        """The SOAP Body, decrypted, and signed when the requirements said so."""
        return self.view().body

    @property
    def signed(self) -> tuple[Element, ...]:
        """Elements covered by the primary signature, in reference order."""
        return self.view().signed

    @property
    def encrypted(self) -> tuple[Element, ...]:
        """Elements whose content (Body) or self (headers, signature) was decrypted."""
        return self.view().encrypted

    @property
    def signature(self) -> VerifiedSignature | None:
        return self.view().signature

    def is_signed(self, element: Element) -> bool:
        return self.view().is_signed(element)

    def is_encrypted(self, element: Element) -> bool:
        return any(element is e for e in self.encrypted)

    @property
    def signed_names(self) -> list[str]:
        return [etree.QName(e).localname for e in self.signed]

    @property
    def encrypted_names(self) -> list[str]:
        return [etree.QName(e).localname for e in self.encrypted]

    def payload(self) -> list[Element]:
        """The Body's child elements."""
        return [c for c in self.body if isinstance(c.tag, str)]

    def to_bytes(self) -> bytes:
        """The plain envelope, with the Security header removed."""
        if self._view is None and self._data is not None:
            return self._data  # the compiled core's output, untouched since
        return serialize(self.envelope)
