"""WS-Addressing actions of the WS-Trust and WS-SecureConversation bindings (SPEC-NOTES section 2).

- WS-SC bindings (:attr:`Binding.SCT`, WS-SC 1.3 sections 3 to 6): ``RST/SCT``, ``RST/SCT/Amend``,
  ``RST/SCT/Renew``, ``RST/SCT/Cancel`` and their ``RSTR/...`` responses.  There is no SCT Validate action.
- Generic WS-Trust bindings (:attr:`Binding.TRUST`, WS-Trust 1.3 sections 4 to 7): ``RST/Issue|Renew|Cancel|Validate``
  and ``RSTR/...``, used with a separate STS and by WCF's SPNEGO/TLSNEGO negotiation.  WS-Trust 1.3 names the
  last response of an exchange separately: ``RSTRC/IssueFinal``, ``RSTR/RenewFinal``, ``RSTR/CancelFinal``,
  ``RSTR/ValidateFinal``; Feb 2005 has no final actions (WCF's final negotiation leg is ``RSTR/Issue``).

Apache Rampart answers an SCT cancel with the generic ``RSTR/Cancel``, WCF with ``RSTR/SCT/Cancel``: a client
accepts any of :func:`accepted_response_actions`.
"""

from __future__ import annotations

from enum import Enum
from typing import Final, NamedTuple

from wssc.trust.elements import RequestType
from wssc.versions import VERSIONS, SCVersion


class Binding(Enum):
    SCT = "sct"
    TRUST = "trust"


class ActionInfo(NamedTuple):
    """What an action URI names; the first three fields are (version, operation, is_response)."""

    version: SCVersion
    operation: RequestType
    is_response: bool
    binding: Binding
    final: bool = False


_SCT_SUFFIX: Final = {
    RequestType.ISSUE: "SCT",
    RequestType.AMEND: "SCT/Amend",
    RequestType.RENEW: "SCT/Renew",
    RequestType.CANCEL: "SCT/Cancel",
}
_TRUST_SUFFIX: Final = {
    RequestType.ISSUE: "Issue",
    RequestType.RENEW: "Renew",
    RequestType.CANCEL: "Cancel",
    RequestType.VALIDATE: "Validate",
}
#: WS-Trust 1.3 final responses (sections 4.3, 5, 6, 7).
_FINAL_SUFFIX: Final = {
    RequestType.ISSUE: "RSTRC/IssueFinal",
    RequestType.RENEW: "RSTR/RenewFinal",
    RequestType.CANCEL: "RSTR/CancelFinal",
    RequestType.VALIDATE: "RSTR/ValidateFinal",
}


def _suffix(operation: RequestType, binding: Binding) -> str:
    table = _SCT_SUFFIX if binding is Binding.SCT else _TRUST_SUFFIX
    try:
        return table[operation]
    except KeyError:
        raise ValueError(f"no {binding.value} binding action for {operation.name}") from None


def request_action(version: SCVersion, operation: RequestType, binding: Binding = Binding.SCT) -> str:
    """The action of a request, e.g. ``.../trust/RST/SCT/Renew`` (ValueError for AMEND/TRUST or VALIDATE/SCT)."""
    return version.action("RST/" + _suffix(operation, binding))


def response_action(
    version: SCVersion, operation: RequestType, binding: Binding = Binding.SCT, *, final: bool = False
) -> str:
    """The action of a response; ``final`` selects WS-Trust 1.3's ``...Final`` action of the generic binding.

    In Feb 2005 the final response carries the ordinary action (WCF ``DriverFeb2005``); the WS-SC bindings
    have no final actions (WCF answers ``RSTR/SCT`` in both versions, SPEC-NOTES section 5).
    """
    suffix = _suffix(operation, binding)
    if final:
        if binding is Binding.SCT:
            raise ValueError("the WS-SC bindings have no final response actions")
        if version.name != "2005-02":
            return version.action(_FINAL_SUFFIX[operation])
    return version.action("RSTR/" + suffix)


def accepted_response_actions(
    version: SCVersion, operation: RequestType, binding: Binding = Binding.SCT
) -> frozenset[str]:
    """Every response action a client accepts for its request (Rampart's generic ``RSTR/Cancel`` included)."""
    accepted = {response_action(version, operation, binding)}
    if operation in _TRUST_SUFFIX:
        accepted.add(response_action(version, operation, Binding.TRUST))
        accepted.add(response_action(version, operation, Binding.TRUST, final=True))
    return frozenset(accepted)


def _index() -> dict[str, ActionInfo]:
    table: dict[str, ActionInfo] = {}
    for version in VERSIONS:
        for binding, suffixes in ((Binding.SCT, _SCT_SUFFIX), (Binding.TRUST, _TRUST_SUFFIX)):
            for operation in suffixes:
                table[request_action(version, operation, binding)] = ActionInfo(version, operation, False, binding)
                table[response_action(version, operation, binding)] = ActionInfo(version, operation, True, binding)
        if version.name != "2005-02":
            for operation in _FINAL_SUFFIX:
                table[version.action(_FINAL_SUFFIX[operation])] = ActionInfo(
                    version, operation, True, Binding.TRUST, final=True
                )
    return table


_BY_ACTION: Final = _index()


def operation_for_action(action: str) -> ActionInfo | None:
    """Reverse lookup: which version, operation and direction an action names; None if it is no trust action."""
    return _BY_ACTION.get(action.strip())
