"""Stateless security contexts (SPEC-NOTES section 10, WCF's cookie-mode SCTs): the context travels inside
its own SCT as a ``dnse:Cookie``, sealed under a key every node of the service holds, so no node keeps it.

The cookie is this service's own format (:mod:`wssc.conversation.sealing`; WCF's is DPAPI-protected .NET
binary XML, opaque to everyone else as well); clients echo the SCT verbatim, cookie included, as WCF clients
do.  Renew and Amend answer with a new SCT and cookie.  What statelessness costs: a context cannot be
cancelled (WCF clients do not send Cancel for cookie-mode contexts either; wssc refuses it rather than
pretend), an older cookie stays usable until it expires, so a renewal does not retire the old key early, and
each node detects replays on its own unless the nodes share a replay cache
(:class:`~wssc.adapters.redis_store.RedisReplayCache`).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Final

from lxml import etree

from wssc import namespaces as ns
from wssc.conversation.context import SecurityContext
from wssc.conversation.sealing import ContextSeal
from wssc.conversation.store import EXPIRED_RETENTION
from wssc.errors import BadContextToken
from wssc.primitives.xml import Element, b64decode, b64encode
from wssc.tokens.sct import SecurityContextToken
from wssc.versions import VERSIONS

COOKIE_TAG: Final = ns.qn(ns.DNSE, "Cookie")
_PURPOSE: Final = "wssc stateless context cookie"
_SCT_TAGS: Final = frozenset(v.sc_qname("SecurityContextToken") for v in VERSIONS)
_SECURITY: Final = ns.qn(ns.WSSE, "Security")
_HEADER_TAGS: Final = frozenset(ns.qn(soap, "Header") for soap in (ns.SOAP11, ns.SOAP12))


def cookie_of(token: SecurityContextToken | None) -> Element | None:
    """The ``dnse:Cookie`` an SCT carries, if any (the mark of a stateless context, WCF's included)."""
    if token is None:
        return None
    return next((e for e in token.extensions if e.tag == COOKIE_TAG), None)


def is_stateless(context: SecurityContext) -> bool:
    return cookie_of(context.token) is not None


def with_cookie(context: SecurityContext, seal: ContextSeal) -> SecurityContext:
    """``context`` whose SCT carries the cookie that restores it (the sealed record leaves the token out)."""
    cookie = etree.Element(COOKIE_TAG, nsmap={"dnse": ns.DNSE})
    cookie.text = b64encode(seal.seal(replace(context, token=None), _PURPOSE))
    wsu_id = context.token.wsu_id if context.token is not None else None
    token = SecurityContextToken(context.identifier, context.instance, wsu_id, context.version, (cookie,))
    return replace(context, token=token)


def open_cookies(root: Element, seal: ContextSeal, now: datetime) -> dict[str, SecurityContext]:
    """The contexts restored from the cookies of the SCTs in ``root``'s Security headers, for
    :meth:`~wssc.conversation.store.RequestScopedStore.request`.

    A cookie that does not open under ``seal``, or opens to another Identifier or Instance than the SCT
    carrying it, is ``wsc:BadContextToken``.  SCTs without a cookie are left to the store, and so is a
    context long expired (past the retention a store keeps expired contexts for): it is simply unknown."""
    opened: dict[str, SecurityContext] = {}
    header = _header(root)
    if header is None:
        return opened
    for security in header.iterchildren(_SECURITY):
        for element in security.iterchildren(*_SCT_TAGS):
            cookies = element.findall(COOKIE_TAG)
            if not cookies:
                continue
            if len(cookies) > 1:
                raise BadContextToken("an SCT with more than one cookie")
            token = SecurityContextToken.from_element(element)
            sealed = b64decode(_character_content(cookies[0]), "dnse:Cookie")
            context = seal.open(sealed, token.identifier, _PURPOSE)
            if context.instance != token.instance:
                raise BadContextToken("the cookie is for another key instance")
            if now < context.expires + EXPIRED_RETENTION:
                opened[token.identifier] = replace(context, token=token)
    return opened


def _header(root: Element) -> Element | None:
    """The SOAP Header: the envelope's first element child when it is one (SOAP 1.2 part 1 section 5.1).
    Comments and processing instructions may stand anywhere between the envelope's children (XML 1.0
    section 3: element content), so the first child node need not be an element."""
    first = next(root.iterchildren(etree.Element), None)
    if first is None or first.tag not in _HEADER_TAGS:
        return None
    return first


def _character_content(element: Element) -> str:
    """The text of a simple-content element, across comments and processing instructions inside it (the
    XPath string-value leaves them out, and so does a base64Binary reader such as WCF's); an element
    child is malformed."""
    if next(element.iterchildren(etree.Element), None) is not None:
        raise BadContextToken("a dnse:Cookie with element content")
    return (element.text or "") + "".join(child.tail or "" for child in element)
