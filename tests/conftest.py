"""Shared fixtures: the test audio (shipped recordings and generated variants) and audio helpers."""

from __future__ import annotations

import io
import math
import os
import struct
import wave
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def testdata(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of test audio, built once per session: the real speech shipped in tests/data
    (see its SOURCES.md) plus the format variants tests/datagen.py generates from it with the
    bundled ffmpeg. ``BSSTREAM_TESTDATA`` may name another folder holding the shipped recordings."""
    from tests import datagen

    override = os.environ.get("BSSTREAM_TESTDATA")
    source = Path(override) if override else datagen.SHIPPED_DIR
    try:
        return datagen.build(source, tmp_path_factory.mktemp("testdata"))
    except datagen.TestDataError as exc:
        pytest.fail(f"cannot make the test audio: {exc}", pytrace=False)


def tone_pcm(seconds: float, *, freq: float = 220.0, rate: int = 16000, amplitude: float = 0.3) -> bytes:
    """A sine tone as PCM16 mono little-endian."""
    n = int(seconds * rate)
    peak = int(32767 * amplitude)
    return b"".join(struct.pack("<h", int(peak * math.sin(2 * math.pi * freq * i / rate))) for i in range(n))


def wav_bytes(pcm: bytes, *, rate: int = 16000, channels: int = 1, width: int = 2) -> bytes:
    """Wrap PCM in a WAV container."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(pcm)
    return buf.getvalue()


def write_wav(path: Path, pcm: bytes, *, rate: int = 16000, channels: int = 1, width: int = 2) -> Path:
    path.write_bytes(wav_bytes(pcm, rate=rate, channels=channels, width=width))
    return path


@pytest.fixture(scope="session")
def tls_pair(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate and key for 127.0.0.1 / localhost (PEM files)."""
    import shutil
    import subprocess

    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is needed to make a test certificate")
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def serve():
    """Start ``bsstream serve --port 0 ARGS...`` processes; returns their addresses. Stopped after."""
    import re
    import subprocess
    import sys

    procs: list[subprocess.Popen[str]] = []

    def start(*args: str) -> str:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BS_")}
        proc = subprocess.Popen(
            [sys.executable, "-m", "bsstream", "serve", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        procs.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"(127\.0\.0\.1:\d+)", line)
        assert match, line + (proc.stderr.read() if proc.stderr else "")
        return match.group(1)

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(10)
