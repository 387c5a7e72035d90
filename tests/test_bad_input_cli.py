"""The bad-input suite at the command line (issue 4): every case gets a clear line, the
documented exit code and no traceback; the API key never shows, even with --debug."""

from __future__ import annotations

import json
import math
import struct
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from bsstream.audio.ffmpeg import ffmpeg_exe
from tests.clirun import bsstream
from tests.conftest import tone_pcm, wav_bytes, write_wav

KEY = "sk-badinput-RECOGNISABLE-31337"


def ffmpeg(*args: str) -> None:
    subprocess.run(
        [ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-y", *args],
        check=True,
        capture_output=True,
        timeout=60,
    )


def multi_channel_wav(path: Path, rate: int, channels: int, seconds: float) -> None:
    frames = int(rate * seconds)
    sample = [struct.pack("<h", int(8000 * math.sin(2 * math.pi * 200 * i / rate))) for i in range(frames)]
    path.write_bytes(wav_bytes(b"".join(s * channels for s in sample), rate=rate, channels=channels))


def make(kind: str, tmp: Path, testdata: Path) -> str:
    """Create the input for a case; return the INPUT argument."""
    if kind == "missing":
        return str(tmp / "no-such-call.wav")
    if kind == "empty-dir":
        (tmp / "empty-dir").mkdir()
        return str(tmp / "empty-dir")
    if kind == "empty":
        (tmp / "empty.wav").write_bytes(b"")
        return str(tmp / "empty.wav")
    if kind == "truncated-header":
        (tmp / "trunc.wav").write_bytes(wav_bytes(tone_pcm(0.5))[:30])
        return str(tmp / "trunc.wav")
    if kind == "wrong-data-length":
        data = bytearray(wav_bytes(tone_pcm(1.0)))
        data[40:44] = struct.pack("<I", 10_000_000)  # claims far more than is there
        (tmp / "wrong.wav").write_bytes(bytes(data))
        return str(tmp / "wrong.wav")
    if kind == "random":
        (tmp / "random.wav").write_bytes(bytes((i * 7919) % 251 for i in range(20000)))
        return str(tmp / "random.wav")
    if kind == "text":
        (tmp / "notes.txt").write_text("meeting notes, not a recording\n" * 50)
        return str(tmp / "notes.txt")
    if kind == "video-no-audio":
        ffmpeg(
            "-f", "lavfi", "-i", "testsrc=duration=1:size=64x48:rate=10", "-c:v", "mpeg4", str(tmp / "v.mp4")
        )
        return str(tmp / "v.mp4")
    if kind == "video-with-audio":
        ffmpeg(
            "-f",
            "lavfi",
            "-i",
            "testsrc=duration=1:size=64x48:rate=10",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=300:duration=1",
            "-c:v",
            "mpeg4",
            "-c:a",
            "aac",
            "-shortest",
            str(tmp / "va.mp4"),
        )
        return str(tmp / "va.mp4")
    if kind == "8-bit":
        (tmp / "u8.wav").write_bytes(
            wav_bytes(bytes(128 + int(60 * math.sin(i / 9)) for i in range(8000)), rate=8000, width=1)
        )
        return str(tmp / "u8.wav")
    if kind == "24-bit":
        pcm = b"".join(struct.pack("<i", int(2_000_000 * math.sin(i / 11)))[:3] for i in range(16000))
        (tmp / "s24.wav").write_bytes(wav_bytes(pcm, width=3))
        return str(tmp / "s24.wav")
    if kind == "float32":
        return str(testdata / "g_two_speakers_8k_stereo_float32.wav")
    if kind == "mulaw-8k":
        return str(testdata / "g_two_speakers_8k_stereo_mulaw.wav")
    if kind == "96k-6ch":
        multi_channel_wav(tmp / "96k6.wav", 96000, 6, 0.5)
        return str(tmp / "96k6.wav")
    if kind == "under-100ms":
        return str(write_wav(tmp / "short.wav", tone_pcm(0.05)))
    if kind == "unicode-path":
        d = tmp / "calls ñandú 😀"
        d.mkdir()
        return str(write_wav(d / "call 1 · é.wav", tone_pcm(0.3)))
    raise AssertionError(kind)


CASES: list[tuple[str, int, str]] = [
    # kind, exit code, a fragment the one stderr line must contain
    ("missing", 4, "no-such-call.wav"),
    ("empty-dir", 4, "empty-dir"),
    ("empty", 4, "empty"),
    ("truncated-header", 4, "trunc.wav"),
    ("random", 4, "random.wav"),
    ("text", 4, "notes.txt"),
    ("video-no-audio", 4, "no audio track"),
    # streams the 1 s that is there and says so (issue 12, item 8): one warning line
    ("wrong-data-length", 0, "file ends 311.50 s before its WAV header says"),
    ("video-with-audio", 0, ""),
    ("8-bit", 0, ""),
    ("24-bit", 0, ""),
    ("float32", 0, ""),
    ("mulaw-8k", 0, ""),
    ("96k-6ch", 0, ""),
    ("under-100ms", 0, ""),
    ("unicode-path", 0, ""),
]


@pytest.mark.parametrize(("kind", "code", "fragment"), CASES, ids=[c[0] for c in CASES])
def test_bad_input(kind: str, code: int, fragment: str, tmp_path: Path, testdata: Path) -> None:
    spec = make(kind, tmp_path, testdata)
    r = bsstream("analyze", spec, "--local", "--json", "--api-key", KEY)
    assert r.code == code, r.err
    assert "Traceback" not in r.err
    err_lines = [line for line in r.err.splitlines() if not line.startswith("note:")]
    if code:
        assert len(err_lines) == 1 and err_lines[0].startswith("error: ") and fragment in err_lines[0]
        assert r.out == ""
    else:
        if fragment:  # a warning: the audio streams, the problem is said once
            assert len(err_lines) == 1 and err_lines[0].startswith("warning: ") and fragment in err_lines[0]
        else:
            assert err_lines == []
        for line in r.out.splitlines():
            assert json.loads(line)["source"] == spec
    debug = bsstream("analyze", spec, "--local", "--json", "--api-key", KEY, "--debug")
    assert debug.code == code
    assert KEY not in r.out + r.err + debug.out + debug.err


STDIN_CASES: list[tuple[str, Callable[[], bytes], int, str]] = [
    ("empty-stdin", lambda: b"", 4, "stdin is empty"),
    ("stdin-not-audio", lambda: b"hello, this is not audio\n" * 100, 4, "stdin"),
    ("stdin-wav", lambda: wav_bytes(tone_pcm(0.5, rate=8000), rate=8000), 0, ""),
]


@pytest.mark.parametrize(("kind", "data", "code", "fragment"), STDIN_CASES, ids=[c[0] for c in STDIN_CASES])
def test_stdin(kind: str, data: Callable[[], bytes], code: int, fragment: str) -> None:
    r = bsstream("analyze", "-", "--local", "--json", "--api-key", KEY, stdin=data())
    assert r.code == code, r.err
    assert "Traceback" not in r.err and KEY not in r.err + r.out
    if code:
        (line,) = [x for x in r.err.splitlines() if not x.startswith("note:")]
        assert fragment in line


def test_unresolvable_host(tmp_path: Path) -> None:
    wav = str(write_wav(tmp_path / "t.wav", tone_pcm(0.3)))
    host = "a" * 64 + ".invalid"  # rejected by the resolver locally: no DNS traffic
    for extra in ([], ["--debug"]):
        # a real process: gRPC's C core would log the resolver failure to fd 2 on its own
        args = ["analyze", wav, "--endpoint", f"{host}:443", "--cid", "1", "--api-key", KEY, *extra]
        r = bsstream(*args, subprocess=True)
        assert r.code == 5, r.err
        assert "Traceback" not in r.err and KEY not in r.err + r.out
        assert len(r.err.strip().splitlines()) == 1 and "--endpoint" in r.err


def test_several_inputs_one_bad(tmp_path: Path, testdata: Path) -> None:
    good = str(testdata / "01_jfk_16k_mono_s16.wav")
    r = bsstream("analyze", good, str(tmp_path / "gone.wav"), good, "--local", "--json")
    assert r.code == 4
    sources = {json.loads(line)["source"] for line in r.out.splitlines()}
    assert sources == {good}
    assert sum(1 for line in r.err.splitlines() if line.startswith("error:")) == 1
