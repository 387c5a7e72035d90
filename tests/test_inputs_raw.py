"""--raw: headerless s16le, mu-law, A-law and f32le from files and stdin (README "Inputs")."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from bsstream.audio.ffmpeg import ffmpeg_exe
from bsstream.audio.raw import RawFormat, parse_raw
from bsstream.status import UsageError
from tests.clirun import bsstream

JFK = "01_jfk_16k_mono_s16.wav"  # 11.0 s


def headerless(src: Path, dest: Path, fmt: str, rate: int, channels: int = 1) -> Path:
    """``src`` converted by ffmpeg to bare samples (no header) in ``dest``."""
    args = ["-f", fmt, "-ar", str(rate), "-ac", str(channels), "-y", str(dest)]
    subprocess.run([ffmpeg_exe(), "-nostdin", "-v", "error", "-i", str(src), *args], check=True)
    return dest


def lines(out: str) -> list[dict]:
    return [json.loads(x) for x in out.splitlines()]


@pytest.mark.parametrize(
    ("fmt", "option"),
    [("s16le", "s16le:16000"), ("mulaw", "mulaw"), ("alaw", "alaw:8000:1"), ("f32le", "f32le:22050")],
)
def test_each_raw_format_round_trips_from_a_recording(testdata, tmp_path, fmt, option):
    raw = parse_raw(option)
    path = headerless(testdata / JFK, tmp_path / f"jfk.{fmt}", fmt, raw.rate)
    r = bsstream("analyze", "--local", "--json", "--raw", option, str(path))
    assert r.code == 0, r.err
    every = lines(r.out)
    assert every[0]["stream"]["duration"] == pytest.approx(11.0, abs=0.01)
    end = every[-1]["end"]
    assert end["status"] == 0 and end["audio_seconds"] == pytest.approx(11.0, abs=0.05)
    assert end["results"] > 0
    # and back: the same windows as the recording itself, nearly all with the same label (G.711
    # at 8 kHz keeps the speech; measured: 99 of 99 windows, 97-99 labels)
    wav = lines(bsstream("analyze", "--local", "--json", str(testdata / JFK)).out)

    def windows(docs: list[dict]) -> list[tuple[str, str, float, float, str]]:
        return [
            (r["level"], r["task"], float(r["start_time"]), float(r["end_time"]), r["final_label"])
            for d in docs
            for r in d.get("result", ())
        ]

    got, want = windows(every), windows(wav)
    assert len(got) == len(want) and want
    for g, w in zip(got, want, strict=True):
        assert g[:2] == w[:2] and abs(g[2] - w[2]) <= 0.1 and abs(g[3] - w[3]) <= 0.1, (g, w)
    assert sum(g[4] == w[4] for g, w in zip(got, want, strict=True)) >= 0.95 * len(want)


def test_raw_s16le_gives_exactly_the_results_of_the_wav(testdata, tmp_path):
    path = headerless(testdata / JFK, tmp_path / "jfk.pcm", "s16le", 16000)
    wav = bsstream("analyze", "--local", "--json", str(testdata / JFK))
    raw = bsstream("analyze", "--local", "--json", "--raw", "s16le", "--sample-rate", "16000", str(path))
    assert wav.code == raw.code == 0, raw.err

    def results(out: str) -> list:
        return [x["result"] for x in lines(out) if "result" in x]

    assert results(raw.out) == results(wav.out) and results(wav.out)


def test_raw_mulaw_on_stdin(testdata, tmp_path):
    path = headerless(testdata / JFK, tmp_path / "jfk.ul", "mulaw", 8000)
    r = bsstream("analyze", "--local", "--json", "--raw", "mulaw:8000", "-", stdin=path.read_bytes())
    assert r.code == 0, r.err
    end = lines(r.out)[-1]["end"]
    assert end["audio_seconds"] == pytest.approx(11.0, abs=0.05) and end["results"] > 0


def test_raw_stereo_split_gives_two_channels(testdata, tmp_path):
    path = headerless(testdata / "g_two_speakers_8k_stereo_mulaw.wav", tmp_path / "two.al", "alaw", 8000, 2)
    r = bsstream("analyze", "--local", "--json", "--raw", "alaw:8000:2", "--channels", "split", str(path))
    assert r.code == 0, r.err
    assert {x["channel"] for x in lines(r.out) if "result" in x} == {0, 1}


def test_raw_on_a_file_with_a_header_is_explained(testdata):
    r = bsstream("analyze", "--local", "--raw", "s16le:16000", str(testdata / JFK))
    assert r.code == 4
    assert r.err.count("\n") == 1 and "it has a header" in r.err and "drop --raw" in r.err


def test_raw_on_stdin_with_a_header_is_explained(testdata):
    r = bsstream("analyze", "--local", "--raw", "mulaw", "-", stdin=(testdata / JFK).read_bytes())
    assert r.code == 4 and "WAV (it has a header)" in r.err


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--raw", "s16le"], "needs the sample rate"),
        (["--raw", "f32le"], "needs the sample rate"),
        (["--raw", "opus:8000"], "unknown format"),
        (["--raw", "mulaw:eight"], "RATE must be a whole number"),
        (["--raw", "mulaw:8000:0"], "out of range"),
        (["--raw", "mulaw:10"], "out of range"),
        (["--raw", "mulaw:8000", "--sample-rate", "16000"], "disagree"),
        (["--sample-rate", "8000"], "give --raw FORMAT too"),
        (["--raw-channels", "2"], "give --raw FORMAT too"),
        (["--raw", "mulaw", "--mic"], "not a capture device"),
    ],
)
def test_bad_raw_combinations_are_usage_errors(args, says, tmp_path):
    r = bsstream("analyze", "--local", *args, str(tmp_path / "x.raw"))
    assert r.code == 2, r.err
    assert says in r.err and r.err.count("\n") == 1


def test_parse_raw_defaults_and_aliases():
    assert parse_raw("mulaw") == RawFormat("mulaw", 8000, 1)
    assert parse_raw("ulaw::2") == RawFormat("mulaw", 8000, 2)
    assert parse_raw("s16le", sample_rate=16000, channels=2) == RawFormat("s16le", 16000, 2)
    assert parse_raw("alaw:8000:1").input_options() == ["-f", "alaw", "-ar", "8000", "-ac", "1"]
    assert parse_raw("s16le:8000:2").duration_of(32000) == 1.0
    with pytest.raises(UsageError):
        parse_raw("mulaw:8000:1:9")
