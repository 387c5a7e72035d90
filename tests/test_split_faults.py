"""--channels split through faults: one channel's call cut while the other continues.

Both channels' calls share one gRPC connection (HTTP/2 streams of one channel), so a TCP fault
would hit both. tests/h2_proxy.py cuts one HTTP/2 stream instead: RST_STREAM to both ends of
the second call opened, once the server has sent it 6 answers (so results were received and
the call resumes from the end of its last utterance, not from the start); the client sees
UNAVAILABLE on that call alone. That channel reconnects and resumes (a new stream on the same
connection) while the other streams on untouched; both end with exactly a clean run's results,
per channel: nothing lost, nothing twice.

Audio: JFK's phrases each followed by 0.8 s of silence (see tests/test_reconnect_proxy.py: on
it a resumed call reproduces the clean run's windows), twice: 23.4 s, the same on both channels
(at another level the emulator's voice-activity detector, started afresh by a resume, may place
an utterance's end differently: a property of the emulator, not of the client).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from bsstream.emulator.server import Emulator
from tests.clirun import Result, bsstream
from tests.conftest import write_wav
from tests.h2_proxy import StreamCutProxy
from tests.test_reconnect_proxy import TOL, compare, phrases  # noqa: F401 (phrases: a fixture)

ANSWERS = 6  # the cut comes after the server's 6th answer on the second call


@pytest.fixture(scope="module")
def stereo(phrases: bytes, tmp_path_factory: pytest.TempPathFactory) -> str:  # noqa: F811
    mono = np.frombuffer(phrases * 2, dtype="<i2")
    frames = np.stack([mono, mono], axis=1).astype("<i2").tobytes()
    return str(write_wav(tmp_path_factory.mktemp("split-faults") / "call.wav", frames, channels=2))


def run(address: str, wav: str) -> Result:
    return bsstream(
        "analyze", wav, "--endpoint", address, "--insecure", "--cid", "7", "--api-key", "sk-split",
        "--json", "--backoff-base", "0.05", "--channels", "split", "--channel-names", "agent,customer",
        timeout=120,
    )  # fmt: skip


def per_channel(r: Result) -> dict[int, list[tuple[str, str, float, float]]]:
    out: dict[int, list[tuple[str, str, float, float]]] = {0: [], 1: []}
    for line in r.out.splitlines():
        rec = json.loads(line)
        for x in rec.get("result", ()):
            window = (x.get("level", ""), x["task"], float(x["start_time"]), float(x["end_time"]))
            out[rec["channel"]].append(window)
    return out


def test_one_channels_call_cut_resumes_while_the_other_continues(stereo: str) -> None:
    with Emulator() as emulator:
        clean = run(emulator.address, stereo)
        assert clean.code == 0, clean.err
        with StreamCutProxy(emulator.address, nth=1, after_responses=ANSWERS) as proxy:
            faulted = run(proxy.address, stereo)
    assert faulted.code == 0, faulted.err
    # one connection carried both channels' calls (streams 1 and 3) and the resumed call (5)
    assert [streams for streams in proxy.opened if streams] == [[1, 3, 5]]
    assert len(proxy.cuts) == 1 and proxy.cuts[0][0] == 3
    records = [json.loads(x) for x in faulted.out.splitlines()]
    reconnects = [x for x in records if x.get("event") == "reconnect"]
    assert len(reconnects) == 1, faulted.err  # the cut channel only
    event = reconnects[0]
    assert event["code"] == "UNAVAILABLE" and 0 <= event["resume_from"] < 23.4
    want, got = per_channel(clean), per_channel(faulted)
    cut = event["channel"]
    # the call resumes from the end of the last utterance the client had received on that
    # channel before the cut (the start when none had arrived: a reset stream drops answers
    # the client had not read yet, so how many arrived depends on timing), never inside one
    before = records[: records.index(event)]
    received = [
        float(x["end_time"])
        for rec in before
        if rec.get("channel") == cut
        for x in rec.get("result", ())
        if x.get("level") == "utterance"
    ]
    assert abs(event["resume_from"] - max(received, default=0.0)) <= TOL, (event, received)
    ends = {0.0} | {w[3] for w in want[cut] if w[0] == "utterance"}
    assert any(abs(event["resume_from"] - end) <= TOL for end in ends)  # never inside one
    for channel in (0, 1):
        assert want[channel], channel
        lost, extra = compare(want[channel], got[channel], TOL)
        assert not lost and not extra, f"channel {channel}: lost {lost[:4]}, extra {extra[:4]}"
        assert len(got[channel]) == len(set(got[channel])), f"channel {channel}: a window twice"
    end = records[-1]["end"]
    assert end["status"] == 0 and end["results"] == sum(len(v) for v in got.values())
    assert "Traceback" not in faulted.err and not [x for x in records if x.get("event") == "utterance_lost"]
