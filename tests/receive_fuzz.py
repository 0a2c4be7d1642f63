"""A structural fuzz of the service's receive path (``scripts/fuzz-receive``, ``tests/test_receive_fuzz.py``).

Input ``i`` of a run with seed ``s`` is a function of ``(s, i)`` alone: a legitimate request of
:mod:`receive_corpus`, parsed, then changed by one to four structural mutations — an element deleted,
duplicated, moved, swapped for one of another request, its children reordered, renamed or moved to another
namespace; an attribute deleted, added or changed; text changed, base64 flipped, truncated or extended; a
comment or processing instruction inserted — and sometimes truncated or bit-flipped as bytes.

Each input goes to :meth:`SecureConversationService.receive` of a pristine node of its target (the seeds'
contexts as issued, an empty replay cache: every input reproduces alone), to a long-lived node that keeps
its state from input to input, and to :meth:`Receiver.unprotect` over the same keys.  :meth:`Harness.check`
returns what went wrong, if anything: an exception out of ``receive``, an ERROR the ``wssc`` logger records
(the service's catch-all turns its own bugs into "internal error" faults), a fault that is not a typed
:class:`WsscError` with its spec code in a well-formed fault envelope, an accepted request the service cannot
answer, or anything but a VerifiedMessage or a WsscError from ``Receiver.unprotect``.  Every so often, and at
the end, :meth:`Harness.probe` checks that the long-lived nodes still serve a legitimate context.
"""

from __future__ import annotations

import base64
import binascii
import copy
import dataclasses
import logging
import random
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from lxml import etree

from receive_corpus import ECHO_ACTION, Seed, Target, call_works
from wssc import namespaces as ns
from wssc.conversation.client import ClientSession
from wssc.conversation.service import ApplicationRequest, FaultReply, SecureConversationService, TokenReply
from wssc.errors import RequestFailed, WsscError
from wssc.primitives.xml import parse
from wssc.security.faults import read_fault
from wssc.security.keys import StaticKeys
from wssc.security.policy import Requirements
from wssc.security.result import VerifiedMessage
from wssc.security.soap import SOAP12
from wssc.security.unprotect import Receiver
from wssc.versions import SC_1_3, SC_2005_02

Element = etree._Element
NAMESPACES = [
    ns.WSSE,
    ns.WSU,
    ns.DS,
    ns.XENC,
    SC_1_3.sc,
    SC_2005_02.sc,
    SC_1_3.trust,
    SC_2005_02.trust,
    *ns.WSA_NAMESPACES,
    "http://www.w3.org/2003/05/soap-envelope",
    "http://schemas.xmlsoap.org/soap/envelope/",
    "urn:fuzz",
    "",
]
TEXTS = ["", " ", "0", "-1", "1" * 40, "\u00e9\u4e2d\U0001f600", "A" * 4096, "AAAA", "====", "#", "urn:uuid:x", "\t\n"]


class _Pools:
    """Material seen in the corpus, to mutate with plausible values."""

    def __init__(self, trees: list[Element]) -> None:
        self.elements: list[Element] = []
        self.names: set[str] = set()
        self.attributes: set[str] = set()
        self.values: set[str] = set()
        self.texts: set[str] = set(TEXTS)
        for tree in trees:
            for element in tree.iter():
                if not isinstance(element.tag, str):
                    continue
                self.elements.append(element)
                self.names.add(etree.QName(element).localname)
                for name, value in element.attrib.items():
                    self.attributes.add(name)
                    self.values.add(value)
                if element.text and element.text.strip():
                    self.texts.add(element.text.strip()[:200])
        self.attributes |= {"Id", f"{{{ns.WSU}}}Id", "{http://www.w3.org/XML/1998/namespace}id", "URI", "Algorithm"}
        self.values |= {"#", "#missing", "", "1", "true", "cid:x"}
        self.names_list, self.attributes_list = sorted(self.names), sorted(self.attributes)
        self.values_list, self.texts_list = sorted(self.values), sorted(self.texts)


Mutation = Callable[[random.Random, Element, "_Pools"], str]


def _elements(root: Element) -> list[Element]:
    return [e for e in root.iter() if isinstance(e.tag, str) and e is not root]


def _pick(rng: random.Random, root: Element) -> Element:
    """An element below the root; a third of the time one of the top three levels (Header, Security and
    their children), where the structure the receive path relies on lives."""
    elements = _elements(root)
    if not elements:
        return root
    if rng.random() < 0.33:
        return rng.choice([e for e in elements if _depth(e) <= 3])
    return rng.choice(elements)


def _any(rng: random.Random, root: Element) -> Element:
    """Any element, the root included, biased to the top levels as :func:`_pick` is."""
    return root if rng.random() < 0.05 else _pick(rng, root)


def _depth(element: Element) -> int:
    return sum(1 for _ in element.iterancestors())


def _delete_duplicate_or_swap(rng: random.Random, root: Element, pools: _Pools) -> str:
    """Delete an element, duplicate it beside itself, or put an element of another request in its place."""
    victim = _pick(rng, root)
    parent = victim.getparent()
    if parent is None:
        return "none"
    how = rng.choices(("delete", "duplicate", "swap"), (12, 10, 8))[0]
    name = etree.QName(victim).localname
    if how == "delete":
        parent.remove(victim)
        return f"delete {name}"
    if how == "duplicate":
        parent.insert(parent.index(victim) + rng.choice((0, 1)), copy.deepcopy(victim))
        return f"duplicate {name}"
    foreign = copy.deepcopy(rng.choice(pools.elements))
    parent.replace(victim, foreign)
    return f"swap {name} for another request's {etree.QName(foreign).localname}"


def _move(rng: random.Random, root: Element, pools: _Pools) -> str:
    victim = _pick(rng, root)
    if victim.getparent() is None:
        return "none"
    targets = [
        e
        for e in root.iter()
        if isinstance(e.tag, str) and e is not victim and not any(a is victim for a in e.iterancestors())
    ]
    shallow = [e for e in targets if _depth(e) <= 2]
    destination = rng.choice(shallow if shallow and rng.random() < 0.5 else targets)
    destination.insert(rng.randint(0, len(destination)), victim)
    return f"move {etree.QName(victim).localname} into {etree.QName(destination).localname}"


def _reorder(rng: random.Random, root: Element, pools: _Pools) -> str:
    parents = [e for e in root.iter() if isinstance(e.tag, str) and len(e) > 1]
    if not parents:
        return "none"
    parent = rng.choice(parents)
    children = list(parent)
    rng.shuffle(children)
    for child in children:
        parent.append(child)
    return f"reorder {etree.QName(parent).localname}"


def _attribute(rng: random.Random, root: Element, pools: _Pools) -> str:
    element = _any(rng, root)
    names = list(element.attrib)
    choice = rng.random()
    if names and choice < 0.35:
        name = rng.choice(names)
        del element.attrib[name]
        return f"delete @{name}"
    name = rng.choice(names) if names and choice < 0.7 else rng.choice(pools.attributes_list)
    value = rng.choice(pools.values_list) if rng.random() < 0.7 else rng.choice(pools.texts_list)
    element.set(name, value)
    return f"set @{name}"


def _text(rng: random.Random, root: Element, pools: _Pools) -> str:
    element = _any(rng, root)
    value = rng.choice(pools.texts_list)
    if rng.random() < 0.3:
        element.tail = value
        return f"tail of {etree.QName(element).localname}"
    element.text = value
    return f"text of {etree.QName(element).localname}"


def _base64(rng: random.Random, root: Element, pools: _Pools) -> str:
    candidates = []
    for element in root.iter():
        if isinstance(element.tag, str) and element.text and len(element.text.strip()) >= 8 and len(element) == 0:
            try:
                candidates.append((element, base64.b64decode(element.text.strip(), validate=True)))
            except (binascii.Error, ValueError):
                continue
    if not candidates:
        return "none"
    element, raw = rng.choice(candidates)
    data = bytearray(raw)
    how = rng.randrange(4)
    if how == 0 and data:
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    elif how == 1:
        del data[rng.randrange(len(data) + 1) :]
    elif how == 2:
        data += bytes(rng.randrange(256) for _ in range(rng.choice((1, 15, 16, 17, 64))))
    else:
        data = data[: len(data) // 16 * 16 - 16] + data[-16:] if len(data) >= 32 else data[::-1]
    element.text = base64.b64encode(bytes(data)).decode()
    return f"base64 ({how}) of {etree.QName(element).localname}"


def _comment(rng: random.Random, root: Element, pools: _Pools) -> str:
    element = _any(rng, root)
    node = etree.Comment("fuzz") if rng.random() < 0.6 else etree.ProcessingInstruction("fuzz", "x")
    position = rng.randint(0, len(element))
    if element.text and rng.random() < 0.5:  # split the text around it
        text = element.text
        cut = rng.randint(0, len(text))
        element.text = text[:cut]
        node.tail = text[cut:]
        position = 0
    element.insert(position, node)
    return f"{'comment' if isinstance(node, etree._Comment) else 'PI'} in {etree.QName(element).localname}"


def _namespace(rng: random.Random, root: Element, pools: _Pools) -> str:
    element = _any(rng, root)
    qname = etree.QName(element)
    if rng.random() < 0.5:
        namespace = rng.choice(NAMESPACES)
        element.tag = f"{{{namespace}}}{qname.localname}" if namespace else qname.localname
        return f"namespace of {qname.localname}"
    local = rng.choice(pools.names_list)
    element.tag = f"{{{qname.namespace}}}{local}" if qname.namespace else local
    return f"rename {qname.localname} to {local}"


MUTATIONS: list[tuple[Mutation, int]] = [
    (_delete_duplicate_or_swap, 30),
    (_move, 8),
    (_reorder, 5),
    (_attribute, 14),
    (_text, 12),
    (_base64, 12),
    (_comment, 7),
    (_namespace, 10),
]


class Mutator:
    """Makes the inputs.  ``inner`` is the share of inputs mutated *before* protection (the envelope the
    client protected, then protected again with the same keys): those pass verification and test what the
    service does with an authenticated but malformed request (an insider's)."""

    def __init__(self, seeds: list[Seed], inner: float = 0.3) -> None:
        self.seeds = seeds
        self.inner = inner
        self.trees = [etree.fromstring(s.data) for s in seeds]
        self.plain = [etree.fromstring(s.plain) if s.plain is not None else None for s in seeds]
        self.pools = _Pools(self.trees + [t for t in self.plain if t is not None])
        self._functions = [m for m, _ in MUTATIONS]
        self._weights = [w for _, w in MUTATIONS]

    def input(self, seed: int, index: int) -> tuple[Seed, bytes, list[str]]:
        """Input ``index`` of a run with ``seed``: the request it started from, its bytes, what was done.

        The mutations are a function of ``(seed, index)``; an inner input's keys and nonces are fresh."""
        rng = random.Random(f"{seed}:{index}")
        which = rng.randrange(len(self.seeds))
        origin, plain = self.seeds[which], self.plain[which]
        flip_tls = rng.random() < 0.1
        inner = plain is not None and origin.protect_again is not None and rng.random() < self.inner
        root = copy.deepcopy(plain if inner and plain is not None else self.trees[which])
        done = ["before protection:"] if inner else []
        for _ in range(min(4, 1 + int(rng.expovariate(1.0)))):
            mutation = rng.choices(self._functions, self._weights)[0]
            done.append(mutation(rng, root, self.pools))
        data = etree.tostring(root)
        if flip_tls:  # the same request as if it had come over HTTPS (or not)
            origin = dataclasses.replace(origin, over_tls=not origin.over_tls)
            done.append(f"over_tls={origin.over_tls}")
        if inner and origin.protect_again is not None:
            try:
                return origin, origin.protect_again(data), done
            except Exception:  # the client refuses to protect it: use the mutant as it is
                done.append("(the client could not protect it; sent unprotected)")
                return origin, data, done
        if rng.random() < 0.05:
            data = data[: rng.randrange(len(data))]
            done.append("truncate bytes")
        elif rng.random() < 0.05:
            flipped = bytearray(data)
            flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
            data = bytes(flipped)
            done.append("flip a byte")
        return origin, data, done


class _ErrorRecords(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def error_records() -> Iterator[_ErrorRecords]:
    """Everything the ``wssc`` logger records at ERROR while inside (the service's "internal error" path)."""
    handler = _ErrorRecords()
    logger = logging.getLogger("wssc")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


class _NoReplays:
    """Receiver-only fuzz: a replay cache that never refuses, so mutants keeping the seed's signature get past
    verification into the rest of the receive path."""

    def add(self, key: bytes, expires: object, now: object) -> bool:
        return True


class Harness:
    def __init__(self, targets: list[Target], seeds: list[Seed]) -> None:
        self.targets = {t.name: t for t in targets}
        self.live = {t.name: t.pristine() for t in targets}
        self.probes: dict[str, ClientSession] = {}
        for target in targets:
            self.probes[target.name] = target.establish(self.live[target.name], SC_1_3, SOAP12)
        self.receivers: dict[str, Receiver] = {}
        for target in targets:
            keys = StaticKeys(
                instances={(c.identifier, c.instance): c.key for c in target.contexts},
                key_pairs=[(target.credentials.certificate, target.credentials.private_key)],
            )
            self.receivers[target.name] = Receiver(keys, Requirements(), replay_cache=_NoReplays())
        self.outcomes: dict[str, int] = {}

    def check(self, seed: Seed, data: bytes, records: _ErrorRecords) -> str | None:
        """Feed one input everywhere; a description of what went wrong, or None."""
        name = seed.target.name
        for node, counted in ((seed.target.pristine(), True), (self.live[name], False)):
            problem = self._service(node, seed, data, records, counted)
            if problem is not None:
                return problem
        return self._receiver(self.receivers[name], seed, data)

    def _service(
        self, node: SecureConversationService, seed: Seed, data: bytes, records: _ErrorRecords, counted: bool
    ) -> str | None:
        before = len(records.records)
        try:
            event = node.receive(data, over_tls=seed.over_tls, transport_action=ECHO_ACTION)
            outcome = self._event(node, event)
        except Exception:
            return "exception out of receive:\n" + traceback.format_exc()
        if len(records.records) > before:
            record = records.records[-1]
            return f"logged at ERROR: {record.getMessage()}\n{record.exc_text or _format(record)}"
        if outcome.startswith("!"):
            return outcome[1:]
        if counted:
            self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        return None

    def _event(self, node: SecureConversationService, event: object) -> str:
        if isinstance(event, FaultReply):
            error = event.error
            if not isinstance(error, WsscError) or type(error) is WsscError:
                return f"!untyped fault {error!r}"
            if isinstance(error, RequestFailed) and "internal error" in str(error):
                return f"!internal error fault {error!r}"
            fault = read_fault(parse(event.reply.data))
            named = fault.error if fault is not None else None
            if named is None or (named.code_kind, named.code) != (error.code_kind, error.code):
                return f"!the fault envelope does not name {error.code_kind}:{error.code}"
            return f"fault {error.code}"
        if isinstance(event, ApplicationRequest):
            try:
                node.respond(event, event.message.payload())
            except WsscError as error:
                return f"accepted, answer refused {error.code}"
            return "accepted application message"
        assert isinstance(event, TokenReply), event
        parse(event.reply.data)
        return f"accepted {event.operation.value.rsplit('/', 1)[-1]}"

    def _receiver(self, receiver: Receiver, seed: Seed, data: bytes) -> str | None:
        try:
            message = receiver.unprotect(data, now=seed.target.clock())
            message.payload()
        except WsscError:
            return None
        except Exception:
            return "exception out of Receiver.unprotect:\n" + traceback.format_exc()
        if not isinstance(message, VerifiedMessage):
            return f"Receiver.unprotect returned {message!r}"
        return None

    def probe(self) -> str | None:
        """Every long-lived node still serves its legitimate context."""
        for name, session in self.probes.items():
            if not call_works(self.live[name], session):
                return f"the long-lived {name} node no longer serves a legitimate context"
        return None


def _format(record: logging.LogRecord) -> str:
    return "".join(traceback.format_exception(*record.exc_info)) if record.exc_info else ""
