"""A legitimate call's latency while another client streams hostile requests (issue 7, finding 3; target:
within 2x of its quiet latency).

Starts `wssc serve` (the real command: uvicorn, the demo echo service, anonymous bootstrap) in a
subprocess, measures a legitimate client's calls on an established context with the server quiet, then
again while one or more hostile clients (each its own process, so their work does not share this
process's GIL) post hostile requests back to back, and prints both and their ratio.

The hostile request is what anyone can make without credentials, about 1 MiB: an EncryptedKey to the
service's certificate, a signature with a key derived from it (wssc's own ``protect``), the ds:Signature
copied ``--signatures`` times, each copy digesting the same Body, and a Body of thousands of elements
carrying both ``Id`` and ``wsu:Id`` (unique values) under a deep nest.  It is refused (the demo service
takes only token requests without a context); what it costs before the refusal is the point.  The
figures stay meaningful whatever the verifier does first: a refusal that costs nothing shows as a ratio
near 1, a queue that fills shows as HTTP 503s in the hostile client's statuses.

    python benchmarks/hostile_latency.py [--calls 200] [--seconds 20] [--hostile-clients 1] [--signatures 60]
        [--kib 1024] [--threads N --queue M] [--json]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509
from lxml import etree

SRC = Path(__file__).resolve().parent.parent / "src"
sys.path.insert(0, str(SRC))

from wssc import namespaces as ns  # noqa: E402
from wssc.adapters.http_client import WsscClient  # noqa: E402
from wssc.conversation.bootstrap import ClientBootstrap  # noqa: E402
from wssc.security.addressing import Addressing, envelope  # noqa: E402
from wssc.security.keys import EncryptedKeyProtection  # noqa: E402
from wssc.security.policy import ProtectionPolicy  # noqa: E402
from wssc.security.protect import protect  # noqa: E402
from wssc.security.soap import SOAP12  # noqa: E402
from wssc.tokens.encrypted_key import EncryptedKey  # noqa: E402
from wssc.tokens.x509 import X509Token  # noqa: E402

ACTION = "urn:wssc:demo:echo"
PAYLOAD = b'<echo xmlns="urn:wssc:demo">hello from wssc</echo>'
DS_SIGNATURE = ns.qn(ns.DS, "Signature")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the hostile request --------------------------------------------------------------------------------


def hostile_body(kib: int, nesting: int = 25) -> bytes:
    """About ``kib`` KiB of Body payload: elements with both Id and wsu:Id (unique), inside a deep nest."""
    item = '<h:p Id="i{n}" wsu:Id="w{n}">x</h:p>'
    items: list[str] = []
    size, n = 0, 0
    while size < kib * 1024:
        text = item.format(n=n)
        items.append(text)
        size += len(text)
        n += 1
    opening = "".join("<h:n>" for _ in range(nesting))
    closing = "</h:n>" * nesting
    return (
        f'<h:hostile xmlns:h="urn:hostile" xmlns:wsu="{ns.WSU}">{opening}{"".join(items)}{closing}</h:hostile>'
    ).encode()


def hostile_request(certificate: x509.Certificate, kib: int, signatures: int) -> bytes:
    """An unauthenticated request: a fresh EncryptedKey, one signature with its derived key, copied."""
    plain = envelope(hostile_body(kib), Addressing(ACTION), SOAP12)
    key, secret = EncryptedKey.create(certificate, X509Token(certificate).reference("thumbprint"))
    policy = ProtectionPolicy(encrypt=False, encrypt_signature=False)
    root = etree.fromstring(protect(plain, EncryptedKeyProtection(key, secret), policy).data)
    signature = next(root.iter(DS_SIGNATURE))
    for _ in range(signatures - 1):
        twin = copy.deepcopy(signature)
        twin.attrib.pop("Id", None)  # a duplicate Id would be refused at once; the attacker leaves it out
        signature.addnext(twin)
    return etree.tostring(root)


def run_hostile(url: str, cert_path: str, kib: int, signatures: int) -> None:
    """The hostile client (a child process): post until stdin closes, then print what happened (JSON)."""
    certificate = x509.load_pem_x509_certificate(Path(cert_path).read_bytes())
    data = hostile_request(certificate, kib, signatures)
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    statuses: Counter[int] = Counter()
    durations: list[float] = []
    with httpx.Client(timeout=120) as http:
        print(json.dumps({"ready": True, "bytes": len(data)}), flush=True)
        while not stop.is_set():
            started = time.perf_counter()
            try:
                status = http.post(url, content=data, headers={"content-type": SOAP12.content_type}).status_code
            except httpx.HTTPError:
                status = 0
            durations.append(time.perf_counter() - started)
            statuses[status] += 1
    print(json.dumps({"statuses": dict(statuses), "durations": durations, "bytes": len(data)}), flush=True)


# -- the server and the legitimate client -------------------------------------------------------------------


class Server:
    """`wssc serve` from this checkout, in a subprocess with its development certificate."""

    def __init__(self, workdir: Path, extra: list[str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/echo"
        env = dict(os.environ, PYTHONPATH=str(SRC))
        cmd = [sys.executable, "-m", "wssc", "serve", "--port", str(self.port), *extra]
        self.proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.cert_path = workdir / "wssc-dev" / "service-cert.pem"
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise SystemExit(self.proc.stderr.read().decode() if self.proc.stderr else "wssc serve failed")
            try:
                httpx.get(self.url, timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise SystemExit("wssc serve did not start") from None
                time.sleep(0.1)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def latencies(client: WsscClient, calls: int, seconds: float = 0.0) -> list[float]:
    """At least ``calls`` calls, and calls for at least ``seconds``."""
    out: list[float] = []
    until = time.perf_counter() + seconds
    while len(out) < calls or time.perf_counter() < until:
        started = time.perf_counter()
        client.call(PAYLOAD, ACTION)
        out.append(time.perf_counter() - started)
    return out


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median_ms": round(statistics.median(ordered) * 1000, 2),
        "p90_ms": round(ordered[int(0.9 * (len(ordered) - 1))] * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    extra = []
    if args.threads is not None:
        extra += ["--threads", str(args.threads)]
    if args.queue is not None:
        extra += ["--queue", str(args.queue)]
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp), extra)
        try:
            certificate = x509.load_pem_x509_certificate(server.cert_path.read_bytes())
            client = WsscClient(server.url, ClientBootstrap(certificate), http=httpx.Client(timeout=300))
            client.establish()
            latencies(client, 20)  # warm-up
            quiet = latencies(client, args.calls)
            sizing = ["--kib", str(args.kib), "--signatures", str(args.signatures)]
            hostile = [
                subprocess.Popen(
                    [sys.executable, __file__, "--hostile", server.url, "--cert", str(server.cert_path), *sizing],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
                for _ in range(args.hostile_clients)
            ]
            sizes = [json.loads(h.stdout.readline())["bytes"] for h in hostile if h.stdout is not None]
            time.sleep(args.settle)  # let the stream reach the server
            loaded = latencies(client, args.calls, args.seconds)
            reports = []
            for h in hostile:
                out, _ = h.communicate("", timeout=600)
                reports.append(json.loads(out.strip().splitlines()[-1]))
            after = latencies(client, args.calls)  # quiet again: the service still answers, the baseline
            client.close()
        finally:
            server.stop()
    statuses: Counter[str] = Counter()
    durations: list[float] = []
    for report in reports:
        statuses.update({str(k): v for k, v in report["statuses"].items()})
        durations += report["durations"]
    # The quiet baseline is measured before and after the stream, so that drift in a shared machine's load
    # falls on both sides of the ratio.
    quiet_s, loaded_s = summary(quiet + after), summary(loaded)
    return {
        "calls": [len(quiet), len(loaded)],
        "hostile_clients": args.hostile_clients,
        "hostile_request_bytes": sizes[0] if sizes else 0,
        "signature_copies": args.signatures,
        "quiet": quiet_s,
        "under_hostile_stream": loaded_s,
        "quiet_before": summary(quiet),
        "quiet_after": summary(after),
        "ratio_median": round(loaded_s["median_ms"] / quiet_s["median_ms"], 2),
        "ratio_p90": round(loaded_s["p90_ms"] / quiet_s["p90_ms"], 2),
        "hostile_requests": sum(statuses.values()),
        "hostile_statuses": dict(statuses),
        "hostile_request_ms": summary(durations) if durations else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200, help="legitimate calls measured, quiet and loaded")
    parser.add_argument("--seconds", type=float, default=20.0, help="and at least this long under the stream")
    parser.add_argument("--hostile-clients", type=int, default=1)
    parser.add_argument("--signatures", type=int, default=60, help="copies of the ds:Signature")
    parser.add_argument("--kib", type=int, default=1024, help="size of the hostile Body payload")
    parser.add_argument("--threads", type=int, default=None, help="wssc serve --threads (default: its own)")
    parser.add_argument("--queue", type=int, default=None, help="wssc serve --queue (default: its own)")
    parser.add_argument("--settle", type=float, default=1.0, help="seconds between starting the stream and measuring")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--hostile", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--cert", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.hostile:
        run_hostile(args.hostile, args.cert, args.kib, args.signatures)
        return
    result = run(args)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for label, key in (("quiet:             ", "quiet"), ("under hostile load:", "under_hostile_stream")):
        f = result[key]
        print(f"legitimate call, {label} median {f['median_ms']} ms, p90 {f['p90_ms']} ms, max {f['max_ms']} ms")
    print(f"ratio: median {result['ratio_median']}x, p90 {result['ratio_p90']}x (target: within 2x)")
    hostile = result["hostile_request_ms"] or {}
    print(
        f"hostile: {result['hostile_clients']} client(s), {result['hostile_requests']} requests of "
        f"{result['hostile_request_bytes']} bytes ({result['signature_copies']} signature copies), "
        f"median {hostile.get('median_ms')} ms each, statuses {result['hostile_statuses']}"
    )


if __name__ == "__main__":
    main()
