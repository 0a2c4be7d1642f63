"""``wssc call --trace`` against ``wssc serve -v --trace`` over loopback HTTP: the service's request log on stderr,
both parties' traces, and ``wssc inspect`` of what the client captured."""

from __future__ import annotations

import stat
from pathlib import Path

from http_support import ServeProcess
from negotiation_support import wssc
from trace_support import CANCEL, ECHO, ESTABLISH, traced, wire_names


def test_call_and_serve_trace_and_log_a_context_life(tmp_path: Path) -> None:
    served_dir, called_dir = tmp_path / "served", tmp_path / "called"
    server = ServeProcess(tmp_path, "-v", "--trace", str(served_dir))
    try:
        ran = wssc(
            "-v", "call", server.url, "--server-cert", str(server.cert_path), "--count", "2", "--trace", str(called_dir)
        )
    finally:
        server.stop()
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.count("hello from wssc") == 2
    # the client's -v lines: one per exchange
    client_lines = [line for line in ran.stderr.splitlines() if " INFO wssc.adapters.observe: POST " in line]
    assert len(client_lines) == 4 and "RST-SCT -> 200 RSTR-SCT" in client_lines[0]

    assert server.proc.stderr is not None
    log = server.proc.stderr.read().decode()
    lines = [line.split(": ", 1)[1] for line in log.splitlines() if " INFO wssc.adapters.observe: " in line]
    assert [line.split()[-3] for line in lines] == ["issued", "ok", "ok", "cancelled"], log
    (identifier,) = {line.split()[1] for line in lines}
    assert identifier.startswith("urn:uuid:") and lines[1].split()[2] == "urn:wssc:demo:echo"

    called = sorted(p.name for p in called_dir.iterdir())
    assert traced(called_dir)[0] == wire_names(ESTABLISH, ECHO, ECHO, CANCEL)
    assert len(called) == 16 and stat.S_IMODE(called_dir.stat().st_mode) == 0o700
    served = sorted(p.name for p in served_dir.iterdir())
    assert "0003-request-echo.decrypted.xml" in served and "0004-response-echoResponse.xml" in served
    assert b"hello from wssc" in (served_dir / "0003-request-echo.decrypted.xml").read_bytes()

    keylog = str(server.keylog)
    for name in called:
        shown = wssc("inspect", str(called_dir / name), "--keylog", keylog)
        assert shown.returncode == 0 and "Traceback" not in shown.stdout + shown.stderr
        if name in ("0003-request-echo.xml", "0006-response-echoResponse.xml"):
            assert f"Signature verifies with the key of context {identifier}" in shown.stdout
            assert "hello from wssc" in shown.stdout.split("Decrypted Body", 1)[1]
        plain = wssc("inspect", str(called_dir / name)).stdout
        if not name.endswith(".decrypted.xml"):
            assert "Tokens" in plain and ("Signed by" in plain or "Encrypted" in plain)
            assert "hello from wssc" not in plain
