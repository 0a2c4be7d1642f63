"""Comments and processing instructions in a stateless (cookie-mode) request (issue 7, finding 9).

XML allows both anywhere in element content (XML 1.0 section 3.1), and exclusive c14n without comments
drops comments from every digest, so a legitimate request stays legitimate with a comment in any element
outside the encrypted Body.  Processing instructions are kept by c14n (a PI inside a signed element is a
change the signature must catch); between the envelope's, the Header's, the Security header's and the
SCT's children they are outside every digest.  Before the fix, a comment or PI before the Header raised
inside ``open_cookies`` (a server traceback, the message refused as ``wst:RequestFailed``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from lxml import etree

from test_stateless import SERVICE, Clock, _echo, _exchange, _node
from wssc import namespaces as ns
from wssc.conversation.bootstrap import ClientBootstrap
from wssc.conversation.client import ClientSession, Established
from wssc.conversation.service import ApplicationRequest, FaultReply
from wssc.conversation.stateless import COOKIE_TAG
from wssc.errors import BadContextToken
from wssc.primitives.xml import Element

CLOCK = Clock()
Junk = Callable[[], Element]
JUNK: dict[str, Junk] = {
    "comment": lambda: etree.Comment(" note "),
    "pi": lambda: etree.ProcessingInstruction("app", "note"),
}
#: Elements whose children are outside every digest (structure, tokens, the SCT with its cookie).
_STRUCTURE = frozenset({"Envelope", "Header", "Security", "SecurityContextToken", "DerivedKeyToken", "ReferenceList"})


def _stateless_request() -> bytes:
    """A legitimate application request under a stateless context (the SCT carries its cookie)."""
    node = _node(clock=CLOCK)
    session = ClientSession(ClientBootstrap(SERVICE[0]), "http://svc/echo")
    assert isinstance(_exchange(node, session, session.establish()), Established)
    return session.request(_echo("hello"), "urn:e:echo")


REQUEST = _stateless_request()


def _accepted(data: bytes) -> ApplicationRequest:
    # A fresh node per message: the same request is not a replay there; only the sealing key is shared.
    event = _node(clock=CLOCK).receive(data)
    assert isinstance(event, ApplicationRequest), getattr(event, "error", event)
    return event


def _positions() -> Iterator[tuple[str, int, int, str]]:
    """(kind, parent's document-order number, child index, test id): a comment in every element outside
    the Body, a PI between the children of every structural element."""
    root = etree.fromstring(REQUEST)
    body = root.find(f"{{{ns.SOAP12}}}Body")
    for kind in JUNK:
        for number, parent in enumerate(root.iter(etree.Element)):
            if body is not None and (parent is body or body in parent.iterancestors()):
                continue  # the Body holds Content EncryptedData: the verifier takes it alone (XML Enc 1.0 3.5)
            if kind == "pi" and etree.QName(parent).localname not in _STRUCTURE:
                continue
            name = etree.QName(parent).localname
            for index in range(len(parent) + 1):
                yield kind, number, index, f"{kind}-in-{name}{number}-at-{index}"


POSITIONS = list(_positions())


@pytest.mark.parametrize(("kind", "number", "index"), [p[:3] for p in POSITIONS], ids=[p[3] for p in POSITIONS])
def test_attack_junk_node_in_stateless_request_is_harmless(kind: str, number: int, index: int) -> None:
    """Positive control and fix together: the legitimate request with one comment or PI inserted is still
    accepted (before the fix, the first Envelope position gave a traceback and ``wst:RequestFailed``)."""
    root = etree.fromstring(REQUEST)
    parent = list(root.iter(etree.Element))[number]
    parent.insert(index, JUNK[kind]())
    event = _accepted(etree.tostring(root))
    assert "".join(event.message.body.itertext()) == "hello"


@pytest.mark.parametrize("kind", list(JUNK))
def test_junk_node_before_and_after_the_envelope(kind: str) -> None:
    root = etree.fromstring(REQUEST)
    root.addprevious(JUNK[kind]())
    root.addnext(JUNK[kind]())
    _accepted(etree.tostring(root.getroottree()))


def test_the_unchanged_request_is_accepted() -> None:
    assert "".join(_accepted(REQUEST).message.body.itertext()) == "hello"


def test_attack_comment_splitting_the_cookie_text_opens_the_same_cookie() -> None:
    """A comment inside the cookie's base64 text: the string-value is the whole cookie, as WCF's reader
    (``ReadElementContentAsBase64``) sees it, not the text before the comment."""
    root = etree.fromstring(REQUEST)
    cookie = next(root.iter(COOKIE_TAG))
    text = cookie.text or ""
    cookie.text = text[:10]
    comment = etree.Comment("split")
    comment.tail = text[10:]
    cookie.append(comment)
    _accepted(etree.tostring(root))


def test_element_inside_the_cookie_is_a_bad_context_token() -> None:
    root = etree.fromstring(REQUEST)
    cookie = next(root.iter(COOKIE_TAG))
    etree.SubElement(cookie, "{urn:x}extra")
    event = _node(clock=CLOCK).receive(etree.tostring(root))
    assert isinstance(event, FaultReply) and isinstance(event.error, BadContextToken), event
