"""What a negotiated context costs against an RST/SCT issue (issue 9), measured in one run, in process, sans HTTP.

Each row runs a wssc client against a wssc service through ``SecureConversationService.receive`` until a context is
established, both ends' work included:

- *RST/SCT issue* (AnonymousForCertificate): one RST/SCT protected with an EncryptedKey to the service's 2048-bit
  RSA certificate, the baseline every negotiated row is divided by;
- *TLSNEGO* TLS 1.3 and TLS 1.2 (ECDHE with the same RSA certificate), the service certificate pinned;
- *NTLM* (SPNEGO with pyspnego's NTLM, four legs);
- *Kerberos* (SPNEGO, one round trip) when ``--kdc`` starts the tests' MIT KDC on loopback (tests/kdc_support.py);
- *TLSNEGO + RST/SCT*: WCF's wsHttpBinding default, the negotiation then the session context under it.

Also printed: the legs each takes and the bytes each way (the envelopes as sent).  Each figure is the best of
5 rounds of the mean over ``--count`` establishments.

    PYTHONPATH=src python benchmarks/negotiation.py [--count 50] [--kdc]
"""

from __future__ import annotations

import argparse
import contextlib
import ssl
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from wssc.adapters.http_client import _flow_establish, _flow_negotiate
from wssc.conversation.bootstrap import ClientBootstrap, ServiceCredentials
from wssc.conversation.client import ClientSession
from wssc.conversation.client_settings import ClientSettings
from wssc.conversation.negotiating import NegotiatedBootstrap, spnego, tlsnego
from wssc.conversation.negotiation import Negotiator
from wssc.conversation.service import SecureConversationService, ServiceSettings
from wssc.tokens.x509 import self_signed

CERT, KEY = self_signed("negotiation benchmark")


def pump(flow: Any, service: SecureConversationService, sizes: list[tuple[int, int]]) -> None:
    """Drive a client flow against the service; record (request bytes, reply bytes) per leg."""
    with contextlib.suppress(StopIteration):
        request, _ = next(flow)
        while True:
            reply = service.receive(request).reply.data  # type: ignore[union-attr]
            sizes.append((len(request), len(reply)))
            request, _ = flow.send(reply)


def scenario(
    service: SecureConversationService, new_bootstrap: Callable[[], Any], *, establish: bool, negotiate: bool
) -> Callable[[], list[tuple[int, int]]]:
    def once() -> list[tuple[int, int]]:
        sizes: list[tuple[int, int]] = []
        session = ClientSession(new_bootstrap(), "http://localhost/echo", ClientSettings())
        if negotiate:
            pump(_flow_negotiate(session), service, sizes)
        if establish:
            pump(_flow_establish(session), service, sizes)
        return sizes

    return once


def measure(run: Callable[[], list[tuple[int, int]]], count: int) -> tuple[float, list[tuple[int, int]]]:
    sizes = run()
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(count):
            run()
        best = min(best, (time.perf_counter() - start) / count)
    return best, sizes


def _tls(version: ssl.TLSVersion) -> SecureConversationService:
    negotiator = Negotiator.tlsnego(CERT, KEY, minimum_version=version, maximum_version=version)
    settings = ServiceSettings(bootstrap="tlsnego", accept_bootstrap_messages=True)
    return SecureConversationService(ServiceCredentials(CERT, KEY), settings=settings, negotiator=negotiator)


@contextlib.contextmanager
def kerberos_realm(enabled: bool) -> Iterator[Any]:
    if not enabled:
        yield None
        return
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from kdc_support import running_kdc  # the tests' loopback MIT KDC

    with tempfile.TemporaryDirectory() as tmp, running_kdc(Path(tmp)) as realm:
        yield realm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--kdc", action="store_true", help="start the tests' MIT KDC and time Kerberos too")
    args = parser.parse_args()
    pin = tlsnego(service_certificate=CERT)
    rows: list[tuple[str, Callable[[], list[tuple[int, int]]]]] = []
    anonymous = SecureConversationService(ServiceCredentials(CERT, KEY))
    rows.append(
        (
            "RST/SCT issue (AnonymousForCertificate)",
            scenario(anonymous, lambda: ClientBootstrap(CERT), establish=True, negotiate=False),
        )
    )
    for name, version in (("TLS 1.3", ssl.TLSVersion.TLSv1_3), ("TLS 1.2", ssl.TLSVersion.TLSv1_2)):
        service = _tls(version)
        rows.append(
            (f"TLSNEGO {name}", scenario(service, lambda: NegotiatedBootstrap(pin), establish=False, negotiate=True))
        )
    with tempfile.TemporaryDirectory() as tmp:
        users = Path(tmp) / "ntlm-users"
        users.write_text("BENCH:alice:secret\n")
        ntlm = Negotiator.spnego(ntlm_users=str(users), protocol="ntlm")
        ntlm_service = SecureConversationService(
            ServiceCredentials(CERT, KEY), settings=ServiceSettings(bootstrap="spnego"), negotiator=ntlm
        )
        ntlm_client = spnego("host/localhost", username="BENCH\\alice", password="secret", protocol="ntlm")
        rows.append(
            (
                "NTLM (SPNEGO)",
                scenario(ntlm_service, lambda: NegotiatedBootstrap(ntlm_client), establish=False, negotiate=True),
            )
        )
        tls13 = _tls(ssl.TLSVersion.TLSv1_3)
        rows.append(
            (
                "TLSNEGO TLS 1.3 + RST/SCT",
                scenario(tls13, lambda: NegotiatedBootstrap(pin), establish=True, negotiate=True),
            )
        )
        with kerberos_realm(args.kdc) as realm:
            if realm is not None:
                kerberos = Negotiator.spnego(keytab=str(realm.keytab), spn="HTTP/localhost", protocol="kerberos")
                kerberos_service = SecureConversationService(
                    ServiceCredentials(CERT, KEY), settings=ServiceSettings(bootstrap="spnego"), negotiator=kerberos
                )
                client = spnego("HTTP/localhost", protocol="kerberos")
                rows.append(
                    (
                        "Kerberos (SPNEGO)",
                        scenario(
                            kerberos_service, lambda: NegotiatedBootstrap(client), establish=False, negotiate=True
                        ),
                    )
                )
            results = [(name, *measure(run, args.count)) for name, run in rows]
    baseline = results[0][1]
    print(f"{'establishment':44} {'ms':>8} {'x issue':>8} {'legs':>5} {'bytes sent':>11} {'bytes received':>15}")
    for name, seconds, sizes in results:
        sent, received = sum(s for s, _ in sizes), sum(r for _, r in sizes)
        print(
            f"{name:44} {seconds * 1000:8.2f} {seconds / baseline:8.2f} {len(sizes) * 2:5d} {sent:11d} {received:15d}"
        )


if __name__ == "__main__":
    main()
