"""Helpers for the WS-Trust tests: field-wise comparison of parsed messages and vector loading."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from lxml import etree

from wssc.primitives import xml as wx
from wssc.tokens.sct import SecurityContextToken

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
WSA200408 = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
WSA10 = "http://www.w3.org/2005/08/addressing"


def normalise(value: Any) -> Any:
    """A comparable form: lxml elements become their exclusive c14n, SCTs their identifying fields."""
    if isinstance(value, etree._Element):
        return wx.c14n(value)
    if isinstance(value, SecurityContextToken):
        return ("SCT", value.identifier, value.instance, value.wsu_id, value.version.name, normalise(value.extensions))
    if isinstance(value, tuple | list):
        return tuple(normalise(v) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (type(value).__name__, *(normalise(getattr(value, f.name)) for f in dataclasses.fields(value)))
    return value


def same(a: Any, b: Any) -> bool:
    return bool(normalise(a) == normalise(b))


def body_child(path: Path) -> wx.Element:
    """The single element in a captured envelope's SOAP 1.1 Body."""
    root = wx.parse(path.read_bytes())
    body = root.find(f"{{{SOAP11}}}Body")
    assert body is not None
    children = [c for c in body if isinstance(c.tag, str)]
    assert len(children) == 1
    return children[0]


def action_of(path: Path) -> str:
    root = wx.parse(path.read_bytes())
    actions = [a for wsa in (WSA200408, WSA10) for a in root.iter(f"{{{wsa}}}Action")]
    assert len(actions) == 1 and actions[0].text
    return actions[0].text.strip()


def child_names(el: wx.Element) -> list[str]:
    return [etree.QName(c).localname for c in el if isinstance(c.tag, str)]


def roundtrip_xml(el: wx.Element) -> wx.Element:
    """Serialise and re-parse through the hardened parser, as a peer would receive it."""
    return wx.parse(wx.serialize(el))
