"""Sealed security contexts: a :class:`SecurityContext` serialised and encrypted under a key that only the
service (or the nodes of its farm) hold, so that it can rest somewhere less trusted — a shared store such as
Redis, or the client itself as a stateless cookie (SPEC-NOTES section 10: WCF seals its cookies with DPAPI;
"a Python server may invent its own cookie format").

Format, version 1: ``0x01 || key id (4) || nonce (12) || AES-256-GCM(JSON record) || tag``, the additional
data being the header, a purpose string and the context Identifier, so a sealed context opens only for the
Identifier and the use it was sealed for.  Several keys may be held at once (the first seals, all open) so a
farm can rotate its sealing key without dropping live contexts.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from wssc.conversation.context import Claim, PreviousKey, SecurityContext
from wssc.errors import BadContextToken
from wssc.primitives.xml import parse, serialize
from wssc.tokens.sct import SecurityContextToken
from wssc.versions import by_name

_FORMAT: Final = b"\x01"
_NONCE: Final = 12
_KEY_ID: Final = 4
#: a sealed context is small (keys, times, at most MAX_CLAIMS claims, the SCT); anything larger is not ours
MAX_SEALED_BYTES: Final = 64 * 1024


def _key_id(key: bytes) -> bytes:
    return hashlib.sha256(b"wssc context seal\x00" + key).digest()[:_KEY_ID]


class ContextSeal:
    """Seals and opens contexts under ``key`` (32 bytes); ``previous_keys`` still open what they sealed."""

    def __init__(self, key: bytes, *, previous_keys: Sequence[bytes] = ()) -> None:
        for k in (key, *previous_keys):
            if len(k) != 32:
                raise ValueError("a context sealing key is 32 bytes (AES-256-GCM)")
        self._sealing = (_key_id(key), AESGCM(key))
        self._opening = {_key_id(k): AESGCM(k) for k in (key, *previous_keys)}

    def __repr__(self) -> str:
        return f"ContextSeal(keys={len(self._opening)})"

    def seal(self, context: SecurityContext, purpose: str) -> bytes:
        key_id, aead = self._sealing
        nonce = os.urandom(_NONCE)
        header = _FORMAT + key_id
        record = json.dumps(_to_record(context), separators=(",", ":")).encode()
        sealed = header + nonce + aead.encrypt(nonce, record, _aad(header, purpose, context.identifier))
        if len(sealed) > MAX_SEALED_BYTES:
            raise ValueError(f"the context seals to {len(sealed)} bytes, more than {MAX_SEALED_BYTES}")
        return sealed

    def open(self, sealed: bytes, identifier: str, purpose: str) -> SecurityContext:
        """The context sealed for ``identifier`` and ``purpose``; anything else is ``wsc:BadContextToken``."""
        head = 1 + _KEY_ID
        if len(sealed) > MAX_SEALED_BYTES or len(sealed) < head + _NONCE + 16 or sealed[:1] != _FORMAT:
            raise BadContextToken("not a sealed context")
        aead = self._opening.get(sealed[1:head])
        if aead is None:
            raise BadContextToken("sealed under a key this service does not hold")
        try:
            record = aead.decrypt(
                sealed[head : head + _NONCE], sealed[head + _NONCE :], _aad(sealed[:head], purpose, identifier)
            )
        except InvalidTag:
            raise BadContextToken("sealed context does not open") from None
        context = _from_record(json.loads(record))
        if context.identifier != identifier:  # unreachable through the AAD; kept as a belt-and-braces check
            raise BadContextToken("sealed context is for another Identifier")
        return context


def _aad(header: bytes, purpose: str, identifier: str) -> bytes:
    return header + b"\x00" + purpose.encode() + b"\x00" + identifier.encode()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _to_record(context: SecurityContext) -> dict[str, Any]:
    token = context.token
    return {
        "id": context.identifier,
        "key": _b64(context.key),
        "created": context.created.isoformat(),
        "expires": context.expires.isoformat(),
        "version": context.version.name,
        "instance": context.instance,
        "claims": [[c.type, c.value, c.issuer] for c in context.claims],
        "previous": [[p.instance, _b64(p.key), p.valid_until.isoformat()] for p in context.previous],
        "token": None if token is None else serialize(token.to_element()).decode("utf-8"),
    }


def _from_record(record: dict[str, Any]) -> SecurityContext:
    """The inverse of :func:`_to_record`, for records this service sealed (authenticated by the GCM tag)."""
    token_xml = record["token"]
    token = None if token_xml is None else SecurityContextToken.from_element(parse(token_xml.encode("utf-8")))
    return SecurityContext(
        identifier=record["id"],
        key=base64.b64decode(record["key"]),
        created=datetime.fromisoformat(record["created"]),
        expires=datetime.fromisoformat(record["expires"]),
        version=by_name(record["version"]),
        instance=record["instance"],
        claims=tuple(Claim(*c) for c in record["claims"]),
        previous=tuple(
            PreviousKey(i, base64.b64decode(k), datetime.fromisoformat(t)) for i, k, t in record["previous"]
        ),
        token=token,
    )
