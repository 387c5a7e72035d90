"""Results are written as they arrive: with --realtime --json into a pipe, each line is readable
by the consumer soon after the server sent it (a generous bound; the benchmark measures it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from tests.conftest import tone_pcm, write_wav
from tests.fake_server import CID, KEY, FakeServer, StrictServicer

BOUND = 0.5  # seconds; the target is 50 ms, this only catches buffering


def test_lines_readable_as_they_arrive(tmp_path):
    wav = str(write_wav(tmp_path / "t.wav", tone_pcm(4.0)))
    servicer = StrictServicer(every=5)
    env = {k: v for k, v in os.environ.items() if not k.startswith("BS_")}
    with FakeServer(servicer) as srv:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bsstream",
                "analyze",
                wav,
                "--endpoint",
                srv.address,
                "--insecure",
                "--cid",
                str(CID),
                "--api-key",
                KEY,
                "--realtime",
                "--chunk-ms",
                "100",
                "--json",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        assert proc.stdout is not None
        read_at = []
        ids = []
        for line in proc.stdout:
            data = json.loads(line)
            if "message_id" in data:  # not the stream and end lines
                read_at.append(time.monotonic())
                ids.append(data["message_id"])
        proc.wait(30)
    (call,) = servicer.calls
    streamed = len(call.sent_at)  # responses sent while audio was still streaming
    assert streamed >= 5 and proc.returncode == 0
    delays = [read_at[i] - call.sent_at[i] for i in range(streamed)]
    assert ids[:streamed] == list(range(streamed))
    assert max(delays) < BOUND, delays
    # and they really were spread out over the stream, not delivered in one burst at the end
    assert read_at[streamed - 1] - read_at[0] > 2.0
