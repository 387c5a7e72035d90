"""The fault suite against the emulator's fault injection, through the real CLI: exit code,
the stderr line, nothing received missing, and the API key nowhere (with --debug too)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.clirun import bsstream
from tests.conftest import write_wav

KEY = "sk-faults-RECOGNISABLE-424242"
SPEECH = "10_voxconverse_aepyx_8k_mono_s16_169s.wav"


@pytest.fixture
def serve(serve):
    """The emulator as a process, accepting only cid 9 and KEY."""
    return lambda *args: serve("--cid", "9", "--api-key", KEY, *args)


def client(address: str, wav: str, *extra: str, key: str = KEY, timeout: float = 120):
    return bsstream(
        "analyze",
        wav,
        "--endpoint",
        address,
        "--insecure",
        "--cid",
        "9",
        "--api-key",
        key,
        "--json",
        "--backoff-base",
        "0.05",
        *extra,
        timeout=timeout,
    )


def records(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines()]


def no_secret(*results) -> None:
    for r in results:
        assert KEY not in r.out and KEY not in r.err
        assert "Traceback" not in r.err


def test_refused_first_calls_then_success(serve, testdata):
    address = serve("--refuse-first", "2")
    r = client(address, str(testdata / "05_vctk_p286_011_48k_mono_s16.wav"), "--debug")
    assert r.code == 0, r.err
    recs = records(r.out)
    assert [x["attempt"] for x in recs if x.get("event") == "reconnect"] == [1, 2]
    assert any("result" in x and x["result"] for x in recs)
    no_secret(r)


def test_abort_every_call_exhausts_retries(serve, testdata):
    address = serve("--abort-after", "200", "--abort-code", "UNAVAILABLE")
    r = client(address, str(testdata / SPEECH), "--retries", "2")
    d = client(address, str(testdata / SPEECH), "--retries", "2", "--debug")
    assert r.code == d.code == 5
    recs = records(r.out)
    assert sum(1 for x in recs if x.get("event") == "reconnect") == 2
    line = next(x for x in r.err.splitlines() if x.startswith("error:"))
    assert "gave up after 2 reconnects" in line and "results up to" in line
    # each resumed call starts where the results ended: times only move forward, no duplicates
    windows = [
        (x["start_time"], x["end_time"], x["task"], x["level"])
        for rec in recs
        if "result" in rec
        for x in rec["result"]
    ]
    assert len(windows) == len(set(windows)) and windows
    no_secret(r, d)


@pytest.mark.parametrize(
    ("code", "exit_code"),
    [
        ("UNAUTHENTICATED", 3),
        ("PERMISSION_DENIED", 3),
        ("INVALID_ARGUMENT", 1),
        ("INTERNAL", 1),
        ("RESOURCE_EXHAUSTED", 1),
        ("DEADLINE_EXCEEDED", 5),
    ],
)
def test_abort_codes_map_to_exit_codes(serve, testdata, code, exit_code):
    address = serve("--abort-after", "120", "--abort-code", code)
    r = client(address, str(testdata / SPEECH), "--retries", "0", "--debug")
    assert r.code == exit_code, r.err
    assert any("result" in x for x in records(r.out))  # what arrived before the abort is kept
    assert code in r.err
    if code == "DEADLINE_EXCEEDED":  # the server's limit: raising our --timeout would not help
        assert "--timeout" not in r.err.splitlines()[-1]
    no_secret(r)


def test_hang_with_timeout(serve, testdata):
    address = serve("--hang-after", "60")
    r = client(address, str(testdata / SPEECH), "--timeout", "1", "--debug")
    assert r.code == 5 and "no response from the server for 1 s" in r.err
    assert any("result" in x and x["result"] for x in records(r.out))
    no_secret(r)


def test_slow_responses_all_kept(serve, testdata):
    fast = client(serve(), str(testdata / "05_vctk_p286_011_48k_mono_s16.wav"))
    slow = client(serve("--delay-ms", "150"), str(testdata / "05_vctk_p286_011_48k_mono_s16.wav"))
    assert fast.code == slow.code == 0

    def strip(recs):
        return [{k: v for k, v in x.items() if k != "pid"} for x in recs]

    assert strip(records(slow.out)) == strip(records(fast.out)) != []


def test_server_closing_early(serve, testdata, tmp_path):
    # 10 minutes: more than flow-control windows can hold, so the client is still sending
    import wave

    with wave.open(str(testdata / "01_jfk_16k_mono_s16.wav")) as w:
        pcm = w.readframes(w.getnframes())
    long_wav = write_wav(tmp_path / "long.wav", pcm * 55)
    address = serve("--close-early-after", "100")
    r = client(address, str(long_wav), "--debug")
    assert r.code == 1 and "ended the stream early" in r.err
    assert any("result" in x and x["result"] for x in records(r.out))
    no_secret(r)


def test_wrong_key_is_auth_failure_without_the_key(serve, testdata):
    address = serve()
    other = "sk-other-RECOGNISABLE-999"
    r = client(address, str(testdata / "01_jfk_16k_mono_s16.wav"), "--debug", key=other)
    assert r.code == 3 and "UNAUTHENTICATED" in r.err
    assert other not in r.out + r.err
    no_secret(r)


def test_interrupt_with_debug_keeps_results_and_secret(serve, testdata):
    address = serve()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BS_")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bsstream",
            "analyze",
            str(testdata / SPEECH),
            "--endpoint",
            address,
            "--insecure",
            "--cid",
            "9",
            "--api-key",
            KEY,
            "--json",
            "--realtime",
            "--debug",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()
    head = first
    while "result" not in json.loads(first):  # the stream line comes first: wait for a result
        first = proc.stdout.readline()
        head += first
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    rest, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert json.loads(first)["result"]
    assert KEY not in head + rest + err and "Traceback" not in err
