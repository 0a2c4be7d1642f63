"""``wssc demo`` as a newcomer reads it: requests and responses told apart, each protocol term explained once,
expiry dated, and why the call after cancel is refused."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from negotiation_support import wssc
from wssc.adapters.cli.demo import TERMS

EXPIRES = re.compile(r"expires (\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})Z \(in (\d+) h (\d\d) min\)")


@pytest.fixture(scope="module", params=["1.3", "2005-02"])
def output(request: pytest.FixtureRequest) -> str:
    ran = wssc("demo", "--calls", "2", "--sc-version", request.param)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "Traceback" not in ran.stdout + ran.stderr
    return ran.stdout


def _joined(output: str) -> str:
    """The output with wrapped explanations joined back into one line each."""
    return re.sub(r"\n {12,}", " ", output)


def test_requests_and_responses_alternate(output: str) -> None:
    arrows = [line[0] for line in output.splitlines() if line[:1] in ("→", "←")]
    assert len(arrows) >= 20
    assert arrows == ["→", "←"] * (len(arrows) // 2)
    lines = output.splitlines()
    assert any(line.startswith("→ request  RST/SCT, encrypted") for line in lines)
    assert any(line.startswith("← response echo 'hello from wssc'") for line in lines)
    assert sum(line.startswith("→ request  echo") for line in lines) == 2 + 2 + 1 + 1 + 1  # the last: the session


def test_each_term_is_explained_once_after_its_first_use(output: str) -> None:
    joined = _joined(output)
    for term, explanation in TERMS.items():
        assert joined.count(f"({explanation})") == 1, term
    # in order of first use: the explanation follows the line that first names the thing
    order = [joined.index(f"({explanation})") for explanation in TERMS.values()]
    assert joined.index("bootstrap: AnonymousForCertificate") < order[1] < joined.index("→ request  RST/SCT")
    assert joined.index("RST/SCT/Renew") < order[4] < joined.index("RST/SCT/Amend")
    assert joined.index("TLSNEGO") > joined.index("RST/Validate")


def test_expiry_is_dated(output: str) -> None:
    found = EXPIRES.findall(output)
    assert len(found) == 3  # issued, renewed, the negotiated session
    now = datetime.now(timezone.utc)
    for moment, hours, minutes in found:
        expires = datetime.strptime(moment, "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)
        ahead = timedelta(hours=int(hours), minutes=int(minutes))
        assert timedelta(hours=14) < expires - now <= timedelta(hours=15)  # WCF's default lifetime, 15 hours
        assert abs(expires - now - ahead) < timedelta(minutes=2)


def test_the_call_after_cancel_is_refused_with_its_reason(output: str) -> None:
    lines = output.splitlines()
    after = lines.index("→ request  echo, under the cancelled context")
    refusal = lines[after + 1]
    assert refusal.startswith("← response refused: wsc:BadContextToken")
    assert "the context no longer exists at the service" in refusal
    assert output.rstrip().endswith("demo complete")
