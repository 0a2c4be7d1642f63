"""WS-Addressing actions (SPEC-NOTES section 2) and their reverse lookup."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from trust_support import action_of

from wssc.trust.actions import (
    ActionInfo,
    Binding,
    accepted_response_actions,
    operation_for_action,
    request_action,
    response_action,
)
from wssc.trust.elements import RequestType
from wssc.versions import SC_1_3, SC_2005_02, SCVersion

FEB = "http://schemas.xmlsoap.org/ws/2005/02/trust/"
OASIS = "http://docs.oasis-open.org/ws-sx/ws-trust/200512/"
RAMPART = "rampart-sample04-secconv"


@pytest.mark.parametrize(
    ("version", "operation", "binding", "req", "resp"),
    [
        (SC_2005_02, RequestType.ISSUE, Binding.SCT, FEB + "RST/SCT", FEB + "RSTR/SCT"),
        (SC_2005_02, RequestType.AMEND, Binding.SCT, FEB + "RST/SCT/Amend", FEB + "RSTR/SCT/Amend"),
        (SC_2005_02, RequestType.RENEW, Binding.SCT, FEB + "RST/SCT/Renew", FEB + "RSTR/SCT/Renew"),
        (SC_2005_02, RequestType.CANCEL, Binding.SCT, FEB + "RST/SCT/Cancel", FEB + "RSTR/SCT/Cancel"),
        (SC_1_3, RequestType.ISSUE, Binding.SCT, OASIS + "RST/SCT", OASIS + "RSTR/SCT"),
        (SC_1_3, RequestType.AMEND, Binding.SCT, OASIS + "RST/SCT/Amend", OASIS + "RSTR/SCT/Amend"),
        (SC_1_3, RequestType.RENEW, Binding.SCT, OASIS + "RST/SCT/Renew", OASIS + "RSTR/SCT/Renew"),
        (SC_1_3, RequestType.CANCEL, Binding.SCT, OASIS + "RST/SCT/Cancel", OASIS + "RSTR/SCT/Cancel"),
        (SC_2005_02, RequestType.ISSUE, Binding.TRUST, FEB + "RST/Issue", FEB + "RSTR/Issue"),
        (SC_2005_02, RequestType.VALIDATE, Binding.TRUST, FEB + "RST/Validate", FEB + "RSTR/Validate"),
        (SC_1_3, RequestType.RENEW, Binding.TRUST, OASIS + "RST/Renew", OASIS + "RSTR/Renew"),
        (SC_1_3, RequestType.CANCEL, Binding.TRUST, OASIS + "RST/Cancel", OASIS + "RSTR/Cancel"),
    ],
)
def test_actions_and_reverse_lookup(
    version: SCVersion, operation: RequestType, binding: Binding, req: str, resp: str
) -> None:
    assert request_action(version, operation, binding) == req
    assert response_action(version, operation, binding) == resp
    assert operation_for_action(req) == ActionInfo(version, operation, False, binding)
    assert operation_for_action(" " + resp + "\n") == ActionInfo(version, operation, True, binding)
    assert operation_for_action(req)[:3] == (version, operation, False)  # type: ignore[index]


@pytest.mark.parametrize(
    ("operation", "action"),
    [
        (RequestType.ISSUE, OASIS + "RSTRC/IssueFinal"),
        (RequestType.RENEW, OASIS + "RSTR/RenewFinal"),
        (RequestType.CANCEL, OASIS + "RSTR/CancelFinal"),
        (RequestType.VALIDATE, OASIS + "RSTR/ValidateFinal"),
    ],
)
def test_ws_trust_13_final_actions(operation: RequestType, action: str) -> None:
    assert response_action(SC_1_3, operation, Binding.TRUST, final=True) == action
    assert operation_for_action(action) == ActionInfo(SC_1_3, operation, True, Binding.TRUST, final=True)


def test_feb_2005_has_no_final_actions() -> None:
    """WCF's final Feb 2005 negotiation leg is RSTR/Issue (WSTrustFeb2005.RequestSecurityTokenResponseFinalAction)."""
    assert response_action(SC_2005_02, RequestType.ISSUE, Binding.TRUST, final=True) == FEB + "RSTR/Issue"
    assert operation_for_action(FEB + "RSTRC/IssueFinal") is None


def test_no_such_actions() -> None:
    with pytest.raises(ValueError):
        request_action(SC_1_3, RequestType.AMEND, Binding.TRUST)
    with pytest.raises(ValueError):
        request_action(SC_1_3, RequestType.VALIDATE, Binding.SCT)
    with pytest.raises(ValueError):
        response_action(SC_1_3, RequestType.ISSUE, Binding.SCT, final=True)
    for unknown in ("urn:echo", OASIS + "RST/SCT/Validate", FEB + "RST/SCT/cancel", ""):
        assert operation_for_action(unknown) is None


def test_sct_cancel_accepts_rampart_and_wcf_responses() -> None:
    accepted = accepted_response_actions(SC_2005_02, RequestType.CANCEL)
    assert {FEB + "RSTR/SCT/Cancel", FEB + "RSTR/Cancel"} <= accepted
    assert accepted_response_actions(SC_1_3, RequestType.ISSUE) == {
        OASIS + "RSTR/SCT",
        OASIS + "RSTR/Issue",
        OASIS + "RSTRC/IssueFinal",
    }
    assert accepted_response_actions(SC_1_3, RequestType.AMEND) == {OASIS + "RSTR/SCT/Amend"}


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("rst04.xml", (SC_2005_02, RequestType.ISSUE, False, Binding.SCT)),
        ("rstr04.xml", (SC_2005_02, RequestType.ISSUE, True, Binding.SCT)),
        ("creq04.xml", (SC_2005_02, RequestType.CANCEL, False, Binding.SCT)),
        ("cres04.xml", (SC_2005_02, RequestType.CANCEL, True, Binding.TRUST)),  # Rampart's generic RSTR/Cancel
    ],
)
def test_rampart_capture_actions(
    vector_path: Callable[[str], Path], message: str, expected: tuple[object, ...]
) -> None:
    info = operation_for_action(action_of(vector_path(f"{RAMPART}/{message}")))
    assert info is not None
    assert (info.version, info.operation, info.is_response, info.binding) == expected
    if info.is_response:
        assert action_of(vector_path(f"{RAMPART}/{message}")) in accepted_response_actions(info.version, info.operation)
