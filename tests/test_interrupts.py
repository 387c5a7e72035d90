"""Ctrl-C and SIGTERM on the real CLI: stop sending, flush what arrived, exit 130 (SIGTERM: 143)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from bsstream._gen import api_pb2
from tests.conftest import tone_pcm, write_wav
from tests.fake_server import CID, KEY, FakeServer, StrictServicer, scripted


def start(address: str, wav: str, *extra: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BS_")}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bsstream",
            "analyze",
            wav,
            "--endpoint",
            address,
            "--insecure",
            "--cid",
            str(CID),
            "--api-key",
            KEY,
            "--realtime",
            "--chunk-ms",
            "100",
            "--json",
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=env,
    )


def first_line(proc: subprocess.Popen[bytes]) -> bytes:
    """The lines up to and including the first result message (the stream line comes first)."""
    assert proc.stdout is not None
    head = b""
    while True:
        line = proc.stdout.readline()
        assert line, proc.stderr.read() if proc.stderr else ""
        head += line
        if b'"message_id"' in line:
            return head


@pytest.fixture
def long_wav(tmp_path):
    return str(write_wav(tmp_path / "long.wav", tone_pcm(1.0) * 60))


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_first_signal_half_closes_and_flushes_everything(long_wav, sig):
    servicer = StrictServicer(every=4)
    with FakeServer(servicer) as srv:
        proc = start(srv.address, long_wav)
        head = first_line(proc)
        proc.send_signal(sig)
        rest, err = proc.communicate(timeout=20)
    every = [json.loads(x) for x in (head + rest).decode().splitlines()]
    lines = [x for x in every if "message_id" in x]
    (call,) = servicer.calls
    assert proc.returncode == (143 if sig == signal.SIGTERM else 130)
    assert every[-1]["end"]["status"] == proc.returncode  # the end line says it was stopped
    assert call.half_closed  # the client stopped sending and half-closed: the tail came
    assert len(lines) == call.responses_sent  # every result the server sent is on stdout
    assert call.audio_bytes < 60 * 32000  # it stopped early
    assert "interrupted" in err.decode() and "Traceback" not in err.decode()
    assert KEY not in err.decode()


def test_second_signal_aborts_at_once_still_flushing(long_wav):
    release = threading.Event()

    def never_closes(requests, context):
        n = 0
        for i, _ in enumerate(requests):
            if i % 3 == 0:
                yield api_pb2.StreamResult(cid=CID, pid=1, message_id=n)
                n += 1
        release.wait(30)  # after the half-close: never finishes

    with FakeServer(scripted(never_closes)) as srv:
        proc = start(srv.address, long_wav)
        first_line(proc)
        proc.send_signal(signal.SIGINT)
        time.sleep(0.3)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
        elapsed = time.monotonic() - t0
        release.set()
    assert proc.returncode == 130
    assert elapsed < 3  # did not wait out the 5 s grace
    assert all(x["result"] == [] for x in map(json.loads, out.decode().splitlines()) if "result" in x)
    assert "Traceback" not in err.decode()


def test_first_signal_gives_up_after_the_grace_period(long_wav):
    release = threading.Event()
    streaming = threading.Event()

    def never_closes(requests, context):
        for _ in requests:
            streaming.set()
        release.wait(30)
        yield api_pb2.StreamResult()

    with FakeServer(scripted(never_closes)) as srv:
        proc = start(srv.address, long_wav)
        # the client is streaming (its handlers are installed) before the signal: no fixed sleep
        assert streaming.wait(30)
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        t0 = time.monotonic()
        _, err = proc.communicate(timeout=20)
        elapsed = time.monotonic() - t0
        release.set()
    assert proc.returncode == 130
    assert 4 < elapsed < 9
    assert "Traceback" not in err.decode()
