"""wsu:Timestamp (WSS 1.1 SOAP Message Security section 10): creation, parsing and freshness checks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from lxml import etree

from wssc import namespaces as ns
from wssc.errors import InvalidSecurity, MessageExpired
from wssc.limits import REPLAY_WINDOW
from wssc.primitives.xml import Element, escape_attr
from wssc.primitives.xsdtime import format_time, parse_time

TIMESTAMP_TAG = ns.qn(ns.WSU, "Timestamp")
_CREATED = ns.qn(ns.WSU, "Created")
_EXPIRES = ns.qn(ns.WSU, "Expires")


@dataclass(frozen=True)
class Timestamp:
    created: datetime
    expires: datetime | None
    wsu_id: str | None = None

    @classmethod
    def new(cls, now: datetime, ttl: timedelta, wsu_id: str) -> Timestamp:
        return cls(now, now + ttl, wsu_id)

    def to_element(self, parent: Element | None = None) -> Element:
        el = etree.Element(TIMESTAMP_TAG) if parent is None else etree.SubElement(parent, TIMESTAMP_TAG)
        if self.wsu_id:
            el.set(ns.WSU_ID, self.wsu_id)
        etree.SubElement(el, _CREATED).text = format_time(self.created)
        if self.expires is not None:
            etree.SubElement(el, _EXPIRES).text = format_time(self.expires)
        return el

    def canonical_xml(self) -> str:
        """The exclusive-c14n form of :meth:`to_element`, valid in place too (digested without re-parsing)."""
        wsu_id = f' wsu:Id="{escape_attr(self.wsu_id)}"' if self.wsu_id else ""
        expires = "" if self.expires is None else f"<wsu:Expires>{format_time(self.expires)}</wsu:Expires>"
        return (
            f'<wsu:Timestamp xmlns:wsu="{ns.WSU}"{wsu_id}><wsu:Created>{format_time(self.created)}</wsu:Created>'
            f"{expires}</wsu:Timestamp>"
        )

    @classmethod
    def from_element(cls, el: Element) -> Timestamp:
        children = [c for c in el if isinstance(c.tag, str)]
        if not children or children[0].tag != _CREATED or len(children) > 2:
            raise InvalidSecurity("wsu:Timestamp must hold Created, then optionally Expires")
        expires = None
        if len(children) == 2:
            if children[1].tag != _EXPIRES:
                raise InvalidSecurity("unexpected element in wsu:Timestamp")
            expires = parse_time(children[1].text)
        return cls(parse_time(children[0].text), expires, el.get(ns.WSU_ID))

    def check(self, now: datetime, max_skew: timedelta, max_age: timedelta = REPLAY_WINDOW) -> None:
        """Created no later than now + skew, Expires no earlier than now - skew (WSS 1.1 section 10), and
        Created no earlier than now - (max_age + skew), Expires or not (WCF's ``ReplayWindow``): a message is
        acceptable for a bounded time whatever Expires says, so replay detection can forget it after that."""
        if self.created > now + max_skew:
            raise InvalidSecurity("Timestamp created in the future")
        if self.expires is not None:
            if self.expires < self.created:
                raise InvalidSecurity("Timestamp expires before it is created")
            if self.expires < now - max_skew:
                raise MessageExpired("Timestamp has expired")
        if self.created < now - (max_age + max_skew):
            raise MessageExpired("Timestamp was created too long ago")
