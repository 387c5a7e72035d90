"""--channels split: each channel of one decode streamed as its own call, results tagged."""

from __future__ import annotations

import json
import threading
from collections import Counter

import pytest

from bsstream.audio.channels import parse_channel_names, split
from bsstream.audio.piped import open_source
from bsstream.status import UsageError
from tests.clirun import bsstream

TWO = "g_two_speakers_8k_stereo_mulaw.wav"  # ch0: p286 (male), ch1: Orca TTS (female)


def every(out: str) -> list[dict]:
    return [json.loads(x) for x in out.splitlines()]


def dominant(lines: list[dict], channel: int, task: str) -> str:
    labels = Counter(
        r["final_label"]
        for x in lines
        if x.get("channel") == channel and "result" in x
        for r in x["result"]
        if r["task"] == task and r.get("level") == "utterance"
    )
    return labels.most_common(1)[0][0]


def test_split_tags_each_channel_and_the_labels_follow_the_speakers(testdata):
    r = bsstream(
        "analyze", "--local", "--json", "--channels", "split", "--channel-names", "agent,customer",
        str(testdata / TWO),
    )  # fmt: skip
    assert r.code == 0, r.err
    lines = every(r.out)
    assert sum("stream" in x for x in lines) == 1 and "end" in lines[-1]
    results = [x for x in lines if "result" in x]
    assert {(x["channel"], x["channel_name"]) for x in results} == {(0, "agent"), (1, "customer")}
    assert dominant(results, 0, "gender") == "male"
    assert dominant(results, 1, "gender") == "female"
    end = lines[-1]["end"]
    assert end["status"] == 0 and end["audio_seconds"] == pytest.approx(2.35, abs=0.05)
    # both calls' results: the end counts every result of both channels
    assert end["results"] == sum(len(x["result"]) for x in results)


def test_mixing_blends_the_speakers(testdata):
    r = bsstream("analyze", "--local", "--json", str(testdata / TWO))
    assert r.code == 0, r.err
    assert all("channel" not in x for x in every(r.out))


def test_split_plain_lines_and_summary_name_the_channel(testdata):
    names = ("--channel-names", "agent,customer")
    r = bsstream("analyze", "--local", "--channels", "split", *names, str(testdata / TWO))
    assert r.code == 0, r.err
    result_lines = [x for x in r.out.splitlines() if not x.startswith("summary")]
    assert result_lines and all(x.startswith(("[agent] ", "[customer] ")) for x in result_lines)
    assert any(x.startswith("[agent] ") and " gender male" in x for x in result_lines)
    assert any(x.startswith("[customer] ") and " gender female" in x for x in result_lines)
    assert "summary gender [agent] male" in r.out and "summary gender [customer] female" in r.out


def test_scan_split_streams_channels_times_methods(testdata):
    r = bsstream("scan", "--local", "--json", "--channels", "split", str(testdata / TWO))
    assert r.code == 0, r.err
    lines = every(r.out)
    pairs = {(x["channel"], x["method"]) for x in lines if "result" in x}
    assert pairs == {(c, m) for c in (0, 1) for m in ("StreamAudio", "DeepfakeDetection")}
    assert "channel_name" not in lines[1]
    assert sum("stream" in x for x in lines) == 1 and sum("end" in x for x in lines) == 1


def test_a_mono_input_split_is_one_channel(testdata):
    mono = str(testdata / "01_jfk_16k_mono_s16.wav")
    r = bsstream("analyze", "--local", "--json", "--channels", "split", mono)
    assert r.code == 0, r.err
    lines = every(r.out)
    assert {x["channel"] for x in lines if "result" in x} == {0}
    assert lines[-1]["end"]["audio_seconds"] == pytest.approx(11.0, abs=0.05)


def test_split_on_stdin_and_to_an_output_file(testdata, tmp_path):
    out = tmp_path / "r.jsonl"
    r = bsstream(
        "analyze", "--local", "--channels", "split", "--output", str(out), "-",
        stdin=(testdata / TWO).read_bytes(),
    )  # fmt: skip
    assert r.code == 0, r.err
    assert {x["channel"] for x in every(out.read_text()) if "result" in x} == {0, 1}


def test_one_decode_gives_equal_length_channels(testdata):
    with open_source(str(testdata / TWO), keep_channels=True) as source:
        tee = split(source)
        assert tee.channels == 2
        sizes = [0, 0]

        def drain(i: int) -> None:  # queues are bounded: both are read at once
            sizes[i] = sum(len(b) for b in tee.branches[i].blocks())

        threads = [threading.Thread(target=drain, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    assert sizes[0] == sizes[1] == pytest.approx(2.345 * 32000, abs=640)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--channel-names", "agent,customer"], "add --channels split"),
        (["--channels", "split", "--channel-names", "agent,,x"], "a name is empty"),
        (["--channels", "split", "--channel-names", "a,a"], "names must differ"),
        (["--channels", "both"], "Invalid value for '--channels'"),
    ],
)
def test_bad_channel_options_are_usage_errors(testdata, args, says):
    r = bsstream("analyze", "--local", *args, str(testdata / TWO))
    assert r.code == 2 and says in r.err


def test_parse_channel_names():
    assert parse_channel_names(" agent , customer ") == ["agent", "customer"]
    assert parse_channel_names(None) == []
    with pytest.raises(UsageError):
        parse_channel_names("")


def test_each_channel_reconnects_on_its_own(serve, testdata):
    """The emulator refuses the first call: one channel's call reconnects (its event carries
    the channel), the other goes on; both channels' results arrive."""
    address = serve("--refuse-first", "1")
    r = bsstream(
        "analyze", str(testdata / TWO), "--endpoint", address, "--insecure", "--cid", "1",
        "--api-key", "k-split-test", "--json", "--backoff-base", "0.05", "--channels", "split",
    )  # fmt: skip
    assert r.code == 0, r.err
    lines = every(r.out)
    reconnects = [x for x in lines if x.get("event") == "reconnect"]
    assert len(reconnects) == 1 and reconnects[0]["channel"] in (0, 1)
    assert {x["channel"] for x in lines if "result" in x} == {0, 1}
    assert dominant(lines, 0, "gender") == "male" and dominant(lines, 1, "gender") == "female"
