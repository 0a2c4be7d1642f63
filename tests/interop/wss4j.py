"""Python side of the Apache WSS4J 1.6 interoperability driver.

``build_driver`` compiles ``java/WssDriver.java`` against the Debian
``libwss4j-java`` jars; ``WSS4J`` runs one long-lived JVM in ``serve`` mode
and talks to it with one JSON object per line (bytes travel base64-encoded).

Only needs a JDK plus ``apt-get install libwss4j-java`` (Debian 12), which
provides everything on the classpath below.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import threading
from collections import deque
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

__all__ = [
    "DEBIAN_JAVA_DIR",
    "DRIVER_SOURCE",
    "RUNTIME_JARS",
    "WSS4J",
    "WSS4JError",
    "build_driver",
    "classpath_jars",
    "missing_prerequisites",
]

DEBIAN_JAVA_DIR = Path("/usr/share/java")
DRIVER_SOURCE = Path(__file__).resolve().parent / "java" / "WssDriver.java"
DRIVER_CLASS = "WssDriver"

#: Minimal runtime classpath (all shipped by ``libwss4j-java`` and its Debian
#: dependencies): WSS4J itself, Apache Santuario (xmlsec 2.x, which WSS4J 1.6
#: uses for XML Encryption and the ApacheXMLDSig JSR-105 provider),
#: commons-logging (used by WSS4J) and slf4j-api (used by xmlsec 2.x).
#: ``slf4j-nop`` only silences slf4j's "no binding" warning; it is optional.
RUNTIME_JARS: tuple[str, ...] = (
    "wss4j.jar",
    "xmlsec.jar",
    "commons-logging.jar",
    "slf4j-api.jar",
)
OPTIONAL_JARS: tuple[str, ...] = ("slf4j-nop.jar",)

JVM_OPTIONS: tuple[str, ...] = (
    "-Dorg.apache.commons.logging.Log=org.apache.commons.logging.impl.NoOpLog",
    "-Djava.awt.headless=true",
    "-XX:+UseSerialGC",
    "-Xss1m",
)

ScVersion = Literal["1.3", "2005-02"]
SctRef = Literal["local", "identifier", "external"]
Mode = Literal["both", "sign", "encrypt"]
Require = Literal["none", "sign", "encrypt", "both"]
ProtectionOrder = Literal["sign-then-encrypt", "encrypt-then-sign"]


class WSS4JError(RuntimeError):
    """The driver failed (as opposed to WSS4J rejecting a message)."""


def missing_prerequisites(java_dir: Path = DEBIAN_JAVA_DIR) -> list[str]:
    """Human-readable list of what is missing to build/run the driver."""
    missing: list[str] = []
    for tool in ("java", "javac"):
        if shutil.which(tool) is None:
            missing.append(f"`{tool}` not on PATH (apt-get install default-jdk-headless)")
    for jar in RUNTIME_JARS:
        if not (java_dir / jar).exists():
            missing.append(f"{java_dir / jar} not found (apt-get install libwss4j-java)")
    return missing


def classpath_jars(java_dir: Path = DEBIAN_JAVA_DIR) -> list[Path]:
    """Jars needed at compile and run time (optional ones only if present)."""
    jars = [java_dir / j for j in RUNTIME_JARS]
    absent = [str(j) for j in jars if not j.exists()]
    if absent:
        raise WSS4JError(f"missing jars: {', '.join(absent)}")
    jars.extend(java_dir / j for j in OPTIONAL_JARS if (java_dir / j).exists())
    return jars


def build_driver(build_dir: Path, *, java_dir: Path = DEBIAN_JAVA_DIR) -> list[str]:
    """Compile ``WssDriver.java`` into *build_dir* (if stale) and return the
    ``java ...`` command prefix that starts it (append ``"serve"``)."""
    java = shutil.which("java")
    javac = shutil.which("javac")
    if java is None or javac is None:
        raise WSS4JError("java/javac not found (apt-get install default-jdk-headless)")
    jars = classpath_jars(java_dir)
    build_dir = build_dir.resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    class_file = build_dir / f"{DRIVER_CLASS}.class"
    source = DRIVER_SOURCE
    if not class_file.exists() or class_file.stat().st_mtime < source.stat().st_mtime:
        cmd = [
            javac,
            "-nowarn",
            "-encoding",
            "UTF-8",
            "-J-XX:+UseSerialGC",
            "-d",
            str(build_dir),
            "-cp",
            os.pathsep.join(str(j) for j in jars),
            str(source),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise WSS4JError(f"javac failed ({proc.returncode}):\n{proc.stderr}{proc.stdout}")
    classpath = os.pathsep.join([str(build_dir), *(str(j) for j in jars)])
    return [java, *JVM_OPTIONS, "-cp", classpath, DRIVER_CLASS]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class WSS4J:
    """One long-running WSS4J JVM (``WssDriver serve``)."""

    def __init__(self, command: list[str], *, timeout: float = 120.0) -> None:
        self._command = [*command, "serve"]
        self._timeout = timeout
        self._lock = threading.Lock()
        self._stderr_tail: deque[str] = deque(maxlen=200)
        self._proc: subprocess.Popen[str] | None = subprocess.Popen(
            self._command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            bufsize=1,
        )
        self._stderr_thread = threading.Thread(target=self._drain_stderr, daemon=True)
        self._stderr_thread.start()
        self.info: dict[str, Any] = self._call({"op": "ping"})

    @classmethod
    def start(cls, build_dir: Path) -> WSS4J:
        return cls(build_driver(build_dir))

    # -- plumbing ---------------------------------------------------------

    def _drain_stderr(self) -> None:
        proc = self._proc
        if proc is None or proc.stderr is None:
            return
        for line in proc.stderr:
            self._stderr_tail.append(line.rstrip("\n"))

    @property
    def stderr(self) -> str:
        """Recent stderr output of the JVM (for diagnostics)."""
        return "\n".join(self._stderr_tail)

    def _call(self, request: dict[str, Any], *, timeout: float | None = None) -> dict[str, Any]:
        with self._lock:
            proc = self._proc
            if proc is None or proc.stdin is None or proc.stdout is None:
                raise WSS4JError("WSS4J driver is closed")
            if proc.poll() is not None:
                raise WSS4JError(f"WSS4J driver exited ({proc.returncode}):\n{self.stderr}")
            try:
                proc.stdin.write(json.dumps(request, separators=(",", ":")) + "\n")
                proc.stdin.flush()
            except OSError as exc:
                raise WSS4JError(f"cannot write to WSS4J driver: {exc}\n{self.stderr}") from exc
            line = self._readline(proc, self._timeout if timeout is None else timeout)
        if not line:
            raise WSS4JError(f"WSS4J driver closed its stdout:\n{self.stderr}")
        response = json.loads(line)
        if not isinstance(response, dict):
            raise WSS4JError(f"unexpected driver response: {line!r}")
        return response

    def _readline(self, proc: subprocess.Popen[str], timeout: float) -> str:
        assert proc.stdout is not None
        result: list[str] = []

        def reader() -> None:
            assert proc.stdout is not None
            result.append(proc.stdout.readline())

        thread = threading.Thread(target=reader, daemon=True)
        thread.start()
        thread.join(timeout)
        if thread.is_alive():
            proc.kill()
            raise WSS4JError(f"WSS4J driver timed out after {timeout}s:\n{self.stderr}")
        return result[0] if result else ""

    @staticmethod
    def _checked(response: dict[str, Any], what: str) -> dict[str, Any]:
        if not response.get("ok"):
            raise WSS4JError(f"{what} failed: {response.get('error')}")
        return response

    # -- API --------------------------------------------------------------

    def protect(
        self,
        envelope: bytes,
        *,
        key: bytes,
        context_id: str,
        sc_version: ScVersion = "1.3",
        sct_ref: SctRef = "local",
        mode: Mode = "both",
        encrypt_signature: bool = True,
        protection_order: ProtectionOrder = "sign-then-encrypt",
    ) -> bytes:
        """Secure *envelope* with WSS4J (Timestamp, SCT, DKT(s), HMAC-SHA1 /
        AES-CBC).

        Header layout: ``Timestamp, [SCT], [DKT(sig)], [DKT(enc)],
        [ReferenceList], [ds:Signature | EncryptedData(ds:Signature)]``.
        ``encrypt_signature`` and ``protection_order`` only matter for
        ``mode="both"``; ``"encrypt-then-sign"`` gives ``..., DKT(sig),
        DKT(enc), ds:Signature, ReferenceList`` with the signature over the
        encrypted Body.
        """
        response = self._checked(
            self._call(
                {
                    "op": "protect",
                    "envelope": _b64(envelope),
                    "key": _b64(key),
                    "context_id": context_id,
                    "sc_version": sc_version,
                    "sct_ref": sct_ref,
                    "mode": mode,
                    "encrypt_signature": encrypt_signature,
                    "protection_order": protection_order,
                }
            ),
            "WSS4J protect",
        )
        return base64.b64decode(response["envelope"])

    def unprotect(
        self,
        envelope: bytes,
        *,
        key: bytes,
        context_id: str,
        sc_version: ScVersion = "1.3",
        require: Require = "none",
    ) -> dict[str, Any]:
        """Verify/decrypt with ``WSSecurityEngine.processSecurityHeader``.

        Returns ``{"ok", "error", "signed", "encrypted", "body", "actions",
        "signature_algorithms", "encryption_algorithms", "callbacks"}``;
        ``signed``/``encrypted`` hold Clark-notation QNames (``{ns}local``).
        With ``require`` the driver additionally insists on a Timestamp and on
        a signed Body+Timestamp ("sign"), an encrypted Body ("encrypt") or
        both ("both").  WSS4J rejections come back as ``ok=False``.
        """
        return self._call(
            {
                "op": "unprotect",
                "envelope": _b64(envelope),
                "key": _b64(key),
                "context_id": context_id,
                "sc_version": sc_version,
                "require": require,
            }
        )

    def bench(
        self,
        envelope: bytes,
        *,
        key: bytes,
        context_id: str,
        warmup: int,
        iterations: int,
        sc_version: ScVersion = "1.3",
        sct_ref: SctRef = "local",
        mode: Mode = "both",
        protection_order: ProtectionOrder = "sign-then-encrypt",
        max_warmup_seconds: float = 0.0,
    ) -> dict[str, Any]:
        """Single-threaded in-JVM timings (System.nanoTime) after warm-up:
        ``protect_us``, ``unprotect_us``, ``roundtrip_us`` (microseconds per
        message, bytes in -> bytes out, including XML parse/serialize; median
        of 5 rounds, ``*_min`` = best round).

        Warm-up is *warmup* round trips; with ``max_warmup_seconds > 0`` it
        then continues in batches until timings are stable (or the budget is
        spent) -- HotSpot needs tens of thousands of WSS4J operations before
        it reaches steady state.  ``warmup_converged`` tells which happened.
        """
        return self._checked(
            self._call(
                {
                    "op": "bench",
                    "envelope": _b64(envelope),
                    "key": _b64(key),
                    "context_id": context_id,
                    "sc_version": sc_version,
                    "sct_ref": sct_ref,
                    "mode": mode,
                    "protection_order": protection_order,
                    "warmup": warmup,
                    "iterations": iterations,
                    "max_warmup_seconds": max_warmup_seconds,
                },
                timeout=self._timeout + max_warmup_seconds,
            ),
            "WSS4J bench",
        )

    def close(self) -> None:
        with self._lock:
            proc = self._proc
            self._proc = None
        if proc is None:
            return
        try:
            if proc.poll() is None and proc.stdin is not None:
                proc.stdin.write('{"op":"quit"}\n')
                proc.stdin.flush()
                proc.stdin.close()
            proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
        finally:
            self._stderr_thread.join(timeout=5)
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()

    def __enter__(self) -> WSS4J:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
