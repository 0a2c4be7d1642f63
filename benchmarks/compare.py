"""One run, three comparisons for the same 1 KB and 10 KB SOAP 1.1 messages (Basic256, sign + encrypt,
derived keys, encrypted signature, SCT in the message):

- wssc protect + unprotect against the XML floor (lxml parse + exclusive c14n + serialise of the plain
  and the protected envelope);
- against Apache WSS4J 1.6 doing the same work in its own JVM (single thread, after JIT warm-up, timed
  with System.nanoTime, bytes in -> bytes out);
- per direction, protect and unprotect throughput against WSS4J's (issue 11's targets);
- against per-message X.509 security with wssc itself (a fresh RSA-OAEP EncryptedKey per message, 2048-bit
  service key, derived keys from it: WCF's AnonymousForCertificate without secure conversation).

    python benchmarks/compare.py [--seconds 2] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from wss4j_bench import make_envelope, run_wss4j_bench

from wssc.adapters.cli.bench import measure
from wssc.security import compiled
from wssc.security.keys import EncryptedKeyProtection, StaticKeys
from wssc.security.protect import protect
from wssc.security.unprotect import Receiver
from wssc.tokens.encrypted_key import EncryptedKey
from wssc.tokens.x509 import X509Token, self_signed


def measure_x509(envelope: bytes, count: int) -> dict[str, float]:
    """Per-message X.509: each message carries its own RSA-OAEP EncryptedKey to the service certificate."""
    cert, key = self_signed("wssc bench service")
    receiver = Receiver(StaticKeys(key_pairs=[(cert, key)]))
    ref = X509Token(cert).reference("thumbprint")
    t0 = time.perf_counter()
    messages = []
    for _ in range(count):
        ek, secret = EncryptedKey.create(cert, ref)
        messages.append(protect(envelope, EncryptedKeyProtection(ek, secret)).data)
    protect_us = (time.perf_counter() - t0) / count * 1e6
    t0 = time.perf_counter()
    for message in messages:
        receiver.unprotect(message).to_bytes()
    unprotect_us = (time.perf_counter() - t0) / count * 1e6
    return {"protect_us": round(protect_us, 1), "unprotect_us": round(unprotect_us, 1)}


def run(seconds: float) -> dict[str, Any]:
    results: dict[str, Any] = {"core": compiled.active()}
    for label, size in (("1k", 1024), ("10k", 10 * 1024)):
        envelope = make_envelope(size)
        ours = measure(size, seconds, envelope)
        theirs = run_wss4j_bench(size)
        x509_cost = measure_x509(envelope, 300)
        wssc_rt = ours["protect_us"] + ours["unprotect_us"]
        wss4j_rt = theirs["protect_us"] + theirs["unprotect_us"]
        x509_rt = x509_cost["protect_us"] + x509_cost["unprotect_us"]
        results[label] = {
            "wssc": ours,
            "wss4j": {k: theirs[k] for k in ("protect_us", "unprotect_us", "roundtrip_us") if k in theirs},
            "x509_per_message": x509_cost,
            "ratio_vs_floor": round(wssc_rt / ours["floor_us"], 2),
            "throughput_vs_wss4j": round(wss4j_rt / wssc_rt, 2),
            # issue 11: protect >= 4x (1 KB) / 3x (10 KB) and unprotect >= 3x WSS4J's throughput
            "protect_vs_wss4j": round(theirs["protect_us"] / ours["protect_us"], 2),
            "unprotect_vs_wss4j": round(theirs["unprotect_us"] / ours["unprotect_us"], 2),
            "speedup_vs_x509": round(x509_rt / wssc_rt, 2),
        }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = run(args.seconds)
    if args.json:
        print(json.dumps(results))
        return
    print(f"core: {results['core']}")
    for label, row in results.items():
        if label == "core":
            continue
        w, j, x = row["wssc"], row["wss4j"], row["x509_per_message"]
        print(
            f"{label:>4}: wssc {w['protect_us']}+{w['unprotect_us']} us (floor {w['floor_us']} us, "
            f"x{row['ratio_vs_floor']}) | WSS4J {j['protect_us']}+{j['unprotect_us']} us "
            f"-> wssc throughput x{row['throughput_vs_wss4j']} | per-message X.509 "
            f"{x['protect_us']}+{x['unprotect_us']} us -> SC x{row['speedup_vs_x509']}"
        )
        print(f"      protect x{row['protect_vs_wss4j']} and unprotect x{row['unprotect_vs_wss4j']} WSS4J's throughput")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
