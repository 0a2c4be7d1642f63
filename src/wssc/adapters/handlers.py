"""What an application registers with :class:`~wssc.adapters.asgi.WsscApp`: handlers, by WS-Addressing action,
that receive only verified data and return the payload of the response Body; and where they run over ASGI (a
worker thread, or the event loop for a coroutine or a handler marked :func:`nonblocking`)."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

from lxml import etree

from wssc.conversation.events import ApplicationRequest
from wssc.primitives.xml import Element

#: a handler's answer: an element, a serialised element, a list of elements, or a tuple of serialised elements
#: (``request.message.payload_xml()``, which goes into the answer without being parsed again)
Payload = Element | bytes | list[Element] | tuple[bytes, ...]
Handler = Callable[[ApplicationRequest], Payload | Awaitable[Payload]]
H = TypeVar("H", bound=Handler)

_NONBLOCKING: Final = "wssc_nonblocking"


def answer_size(payload: Payload) -> int:
    """The size of a handler's answer as it will be written (an element serialised to count it)."""
    if isinstance(payload, bytes):
        return len(payload)
    if isinstance(payload, tuple):
        return sum(len(item) for item in payload)
    elements = payload if isinstance(payload, list) else [payload]
    return sum(len(etree.tostring(element, encoding="utf-8")) for element in elements)


def nonblocking(handler: H) -> H:
    """Mark a synchronous handler that neither blocks nor computes for long: over ASGI it runs on the event
    loop after a request verified there (``SecureConversationService.is_light``), as a coroutine handler
    does, rather than in a worker.  Unmarked synchronous handlers always run in a worker (``wssc.adapters.asgi``)."""
    setattr(handler, _NONBLOCKING, True)
    return handler


def in_worker(handler: Handler | None) -> bool:
    """Whether a handler must run in a worker: synchronous, and not marked :func:`nonblocking`."""
    if handler is None or getattr(handler, _NONBLOCKING, False):  # the mark first: it is read at every request
        return False
    return not inspect.iscoroutinefunction(handler)


@nonblocking
def echo_handler(request: ApplicationRequest) -> Payload:
    """The demo operation: the response Body holds the request Body's payload unchanged, as verified (each
    element's Canonical XML, written from the compiled core's tree where it verified the request: no tree is
    built to answer it)."""
    return request.message.payload_xml()
