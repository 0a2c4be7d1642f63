"""wsse:UsernameToken (WSS UsernameToken Profile 1.1), as WCF's UserNameForCertificate bootstrap sends it:
inside the encrypted part of the message, the password in clear text (``#PasswordText``), protected by
the bootstrap's encryption.  ``#PasswordDigest`` (SHA-1 of nonce, created and password) is read too.

Hand-written: no maintained Python library serialises WS-Security UsernameTokens outside a SOAP stack.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass, field
from datetime import datetime

from wssc import namespaces as ns
from wssc.errors import FailedAuthentication, InvalidSecurityToken
from wssc.primitives.xml import Element, b64decode, b64encode, escape_attr, escape_text
from wssc.primitives.xsdtime import format_time

USERNAME_TOKEN_TAG = ns.qn(ns.WSSE, "UsernameToken")
_PROFILE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
PASSWORD_TEXT = _PROFILE + "#PasswordText"
PASSWORD_DIGEST = _PROFILE + "#PasswordDigest"
#: Longest username/password accepted (WCF has no limit; 256 characters keeps hostile tokens small).
MAX_CREDENTIAL_LENGTH = 256


@dataclass(frozen=True)
class UsernameToken:
    username: str
    password: str | None = field(default=None, repr=False)
    password_type: str = PASSWORD_TEXT
    nonce: bytes | None = None
    created: str | None = None
    wsu_id: str | None = None

    def to_xml(self) -> str:
        """Self-contained XML text; with ``#PasswordDigest`` the digest of nonce, created and password."""
        wsu_id = f' xmlns:wsu="{ns.WSU}" wsu:Id="{escape_attr(self.wsu_id)}"' if self.wsu_id else ""
        parts = [f'<wsse:UsernameToken xmlns:wsse="{ns.WSSE}"{wsu_id}>']
        parts.append(f"<wsse:Username>{escape_text(self.username)}</wsse:Username>")
        if self.password is not None:
            value = self.password
            if self.password_type == PASSWORD_DIGEST:
                value = b64encode(password_digest(self.nonce or b"", self.created or "", self.password))
            parts.append(f'<wsse:Password Type="{self.password_type}">{escape_text(value)}</wsse:Password>')
        if self.nonce is not None:
            parts.append(f'<wsse:Nonce EncodingType="{ns.BASE64_ENCODING}">{b64encode(self.nonce)}</wsse:Nonce>')
        if self.created is not None:
            parts.append(f'<wsu:Created xmlns:wsu="{ns.WSU}">{escape_text(self.created)}</wsu:Created>')
        parts.append("</wsse:UsernameToken>")
        return "".join(parts)

    @classmethod
    def create(
        cls,
        username: str,
        password: str,
        *,
        digest: bool = False,
        created: datetime | None = None,
        wsu_id: str | None = None,
    ) -> UsernameToken:
        if not digest:
            # No Nonce or Created with a clear-text password, as WCF sends it: Mono's WCF cannot read a
            # #PasswordText token that carries them.  Such a token is bound to its message's key, Timestamp
            # and signature instead (it is signed and encrypted with them), which is what makes it fresh.
            return cls(username, password, PASSWORD_TEXT, wsu_id=wsu_id)
        stamp = format_time(created or datetime.now().astimezone())
        return cls(username, password, PASSWORD_DIGEST, os.urandom(16), stamp, wsu_id)

    @classmethod
    def from_element(cls, el: Element) -> UsernameToken:
        if el.tag != USERNAME_TOKEN_TAG:
            raise InvalidSecurityToken(f"not a UsernameToken: {el.tag}")
        username = el.findtext(ns.qn(ns.WSSE, "Username"))
        if not username or len(username) > MAX_CREDENTIAL_LENGTH:
            raise InvalidSecurityToken("UsernameToken without a usable Username")
        password_el = el.find(ns.qn(ns.WSSE, "Password"))
        password = password_type = None
        if password_el is not None:
            password = password_el.text or ""
            password_type = password_el.get("Type", PASSWORD_TEXT)
            if password_type not in (PASSWORD_TEXT, PASSWORD_DIGEST) or len(password) > MAX_CREDENTIAL_LENGTH:
                raise InvalidSecurityToken("unsupported or oversized Password")
        nonce_text = el.findtext(ns.qn(ns.WSSE, "Nonce"))
        nonce = None if nonce_text is None else b64decode(nonce_text, "UsernameToken Nonce")
        created = el.findtext(ns.qn(ns.WSU, "Created"))
        return cls(username, password, password_type or PASSWORD_TEXT, nonce, created, el.get(ns.WSU_ID))

    def verify(self, expected_password: str) -> None:
        """Check the password in constant time; :class:`FailedAuthentication` when it does not match."""
        if self.password is None:
            raise FailedAuthentication("UsernameToken without a password")
        if self.password_type == PASSWORD_DIGEST:
            expected = password_digest(self.nonce or b"", self.created or "", expected_password)
            try:
                given = base64.b64decode(self.password, validate=True)
            except ValueError:
                raise FailedAuthentication("bad password digest") from None
            ok = hmac.compare_digest(given, expected)
        else:
            ok = hmac.compare_digest(self.password.encode("utf-8"), expected_password.encode("utf-8"))
        if not ok:
            raise FailedAuthentication("wrong username or password")


def password_digest(nonce: bytes, created: str, password: str) -> bytes:
    """UsernameToken Profile 1.1 section 3.1: SHA-1(nonce || created || password)."""
    data = nonce + created.encode("utf-8") + password.encode("utf-8")
    return hashlib.sha1(data).digest()  # noqa: S324 - the profile defines SHA-1 here
