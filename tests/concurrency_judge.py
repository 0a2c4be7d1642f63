"""The checker of a stress run (:mod:`concurrency_support`): judges the recorded history of every context.

* a refusal is one of the faults the operation may legitimately get in a race, never anything else (checked
  as the run goes, in :mod:`concurrency_support`), and every accepted reply verified at the client;
* no wrong accepts: nothing is accepted under a context whose Cancel finished before it started, nor under
  an instance whose renewal finished more than the rollover window before; successful Renews of a context
  form one chain (never two from the same instance), and a Cancel ends it (no Renew from its instance);
* no lost contexts: a call refused as ``BadContextToken`` had a Cancel or a renewal of its instance under
  way; at the end every context not cancelled is in the store at the newest instance of its chain, with
  every claim an Amend added, and answers a call under its newest key; a cancelled one is gone.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from concurrency_support import ECHO_ACTION, Node, Op, Stress, echo_body, now
from wssc.conversation.client import ClientSession, Response
from wssc.conversation.context import SecurityContext
from wssc.conversation.store import ContextStore
from wssc.errors import BadContextToken
from wssc.security.soap import SOAP12


@dataclasses.dataclass
class History:
    """Everything recorded about one context."""

    established: Op
    ops: list[Op] = dataclasses.field(default_factory=list)

    def ok(self, kind: str) -> list[Op]:
        return [o for o in self.ops if o.kind == kind and o.outcome == "ok"]


def judge(
    stress: Stress, rollover: timedelta, store: ContextStore, final_node: Node, *, known: frozenset[str] = frozenset()
) -> tuple[list[str], dict[str, int]]:
    """The violations in the run's ledger (those whose kind is in ``known`` left out) and counts per outcome
    (``operation:outcome``, and ``known:kind`` for the violations left out).

    ``store`` is read and ``final_node`` called once per context for the final state."""
    ledger = stress.ledger
    histories: dict[str, History] = {}
    for op in ledger.ops:
        if op.kind == "establish":
            histories[op.identifier] = History(op)
    for op in ledger.ops:
        if op.kind != "establish":
            histories[op.identifier].ops.append(op)
    found = list(ledger.violations)
    counts: dict[str, int] = {}
    for identifier, history in histories.items():
        for kind, text in _judge_one(history, rollover, stress, store, final_node):
            if kind in known:
                counts[f"known:{kind}"] = counts.get(f"known:{kind}", 0) + 1
            else:
                found.append(f"{kind}: {identifier}: {text}")
    for op in ledger.ops:
        key = f"{op.kind}:{op.outcome}"
        counts[key] = counts.get(key, 0) + 1
    return found, counts


def _judge_one(
    history: History, rollover: timedelta, stress: Stress, store: ContextStore, node: Node
) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    renews = history.ok("renew")
    cancels = history.ok("cancel")
    successor: dict[str | None, Op] = {}
    for renew in renews:
        assert renew.result is not None
        if renew.instance in successor:
            found.append(("double-renew", f"two Renews from instance {renew.instance} both succeeded"))
        successor[renew.instance] = renew
    # The chain from the first instance; every successful Renew must be on it.
    newest = history.established.result
    assert newest is not None
    chain = {newest.instance}
    while newest.instance in successor:
        newest = successor[newest.instance].result  # type: ignore[assignment]
        assert newest is not None
        if newest.instance in chain:
            break
        chain.add(newest.instance)
    if len(chain) != len(renews) + 1:
        found.append(("broken-chain", f"{len(renews)} successful Renews but a chain of {len(chain) - 1}"))
    if len(cancels) > 1:
        found.append(("double-cancel", f"{len(cancels)} Cancels succeeded"))
    for cancel in cancels:
        if cancel.instance in successor:
            found.append(("renew-and-cancel", f"a Renew and a Cancel from instance {cancel.instance} both succeeded"))
    cancelled_at = min((c.end for c in cancels), default=None)
    cancel_started = min((o.start for o in history.ops if o.kind == "cancel"), default=None)
    for op in history.ops:
        accepted = op.outcome == "ok" and (op.kind != "validate" or op.valid)
        if accepted and op.kind != "cancel" and cancelled_at is not None and op.start > cancelled_at:
            found.append(("accepted-after-cancel", f"{op.kind} accepted after the context was cancelled"))
        renewed = successor.get(op.instance)
        if accepted and op.kind == "call" and renewed is not None and op.start > renewed.end + rollover:
            found.append(("accepted-superseded", f"call under instance {op.instance} accepted after its window"))
        refused = op.outcome == BadContextToken.__name__ or (op.kind == "validate" and op.valid is False)
        if refused and op.kind in ("call", "validate"):
            by_cancel = cancel_started is not None and cancel_started < op.end
            by_renewal = any(r.start < op.end for r in history.ops if r.kind == "renew" and r.instance == op.instance)
            if not (by_cancel or by_renewal or op.instance in successor):
                found.append(("unjustified-refusal", f"{op.kind} under a live instance refused: {op.detail}"))
    found += _final_state(history, newest, bool(cancels), stress.session(newest.version, SOAP12, newest), store, node)
    return found


def _final_state(
    history: History,
    newest: SecurityContext,
    cancelled: bool,
    session: ClientSession,
    store: ContextStore,
    node: Node,
) -> list[tuple[str, str]]:
    """After the run: a cancelled context is gone, any other one is stored at its newest instance with every
    claim an Amend added, and ``session`` (holding its newest key) gets an answer."""
    stored = store.get(newest.identifier, now())
    request = session.request(echo_body("final"), ECHO_ACTION)
    reply = node.exchange(request, ECHO_ACTION, SOAP12)
    try:
        answered = isinstance(session.receive(reply), Response)
    except BadContextToken:
        answered = False
    if cancelled:
        if stored is not None or answered:
            return [("cancelled-but-alive", "a cancelled context is still stored or answers")]
        return []
    found = []
    if stored is None:
        found.append(("lost-context", "a context never cancelled is gone from the store"))
    elif stored.instance != newest.instance:
        found.append(("lost-renewal", f"stored instance {stored.instance}, newest renewal {newest.instance}"))
    else:
        have = {c.value for c in stored.claims}
        lost = {o.claim for o in history.ok("amend")} - have
        if lost:
            found.append(("lost-amend", f"claims added by Amend are gone: {sorted(c or '' for c in lost)}"))
    if not answered:
        found.append(("lost-context", "a call under the newest key is refused"))
    return found
