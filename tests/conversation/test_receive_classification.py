"""How the service picks the requirements of a request before verifying it (WS-SP 1.2 section 7: bootstrap or
context message, Renew or not), and that a plain context message reaches the receiver as bytes, so that the
compiled core can parse it alone (docs/core.md, "one source of truth for what was signed")."""

from __future__ import annotations

from datetime import timedelta

import pytest
from conversation_support import ECHO_ACTION, World, echo_body

from wssc.conversation.classify import plainly_context_message
from wssc.conversation.client import Renewed
from wssc.conversation.service import TokenReply
from wssc.errors import RenewNeeded
from wssc.security.unprotect import Receiver


def test_a_context_message_reaches_the_receiver_as_bytes(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[type] = []
    unprotect = Receiver.unprotect
    services = set(map(id, world.service._receivers.values()))

    def recording(self: Receiver, data: object, **kw: object) -> object:
        if id(self) in services:  # not the client's, reading the answer
            seen.append(type(data))
        return unprotect(self, data, **kw)  # type: ignore[arg-type]

    session = world.establish()
    monkeypatch.setattr(Receiver, "unprotect", recording)
    world.call(session, "the bytes, not a tree")
    assert seen == [bytes]


#: ways a wsa:Action can read ".../Renew" on the parsed tree without the bytes "Renew" in the message: the
#: signature still verifies (exclusive c14n reads the text the parser made), so only the classification differs
SPELLINGS = {
    "character reference": b"&#82;enew",
    "CDATA section": b"R<![CDATA[enew]]>",
    "comment": b"Re<!-- -->new",
}


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_a_renew_whatever_its_action_spelling_may_use_the_expired_key(world: World, spelling: str) -> None:
    session = world.establish()
    world.call(session, "in use (an unused one is dropped after the inactivity timeout)")
    assert session.context is not None
    world.clock.now = session.context.expires + timedelta(minutes=1)
    world.expect_fault(session.request(echo_body("x"), ECHO_ACTION), RenewNeeded, session)

    request = session.renew()
    assert request.count(b"/Renew<") == 1
    event = world.service.receive(request.replace(b"Renew<", SPELLINGS[spelling] + b"<"))
    assert isinstance(event, TokenReply), getattr(event, "error", None)
    assert isinstance(session.receive(event.reply.data), Renewed)


@pytest.mark.parametrize(
    "data",
    [
        b'<?xml version="1.0" encoding="UTF-8"?><s:Envelope/>',  # a declaration: another encoding is possible
        "<s:Envelope/>".encode("utf-16"),
        "<s:Envelope/>".encode("utf-16-le"),
        b"\xef\xbb\xbf<s:Envelope/>",
        b"",
        b"<",
        b"<s:Envelope><xenc:EncryptedKey/></s:Envelope>",
        b"<s:Envelope><a:Action>x/Renew</a:Action></s:Envelope>",
        b"<s:Envelope><a:Action>&#x52;enew</a:Action></s:Envelope>",
        b"<s:Envelope><a:Action><![CDATA[Renew]]></a:Action></s:Envelope>",
        b"<!DOCTYPE s:Envelope><s:Envelope/>",
    ],
)
def test_only_plain_utf8_without_renew_or_encrypted_key_skips_the_parse(data: bytes) -> None:
    assert not plainly_context_message(data)


def test_a_plain_context_message_is_recognised(world: World) -> None:
    session = world.establish()
    assert plainly_context_message(session.request(echo_body("x"), ECHO_ACTION))
