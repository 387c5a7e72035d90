"""The bad-input suite at the decoder: every failure is an InputError (exit code 4) with one
line that names the input and says what to do; the odd-but-valid inputs decode."""

from __future__ import annotations

import io
import os
import stat
import struct
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from bsstream.audio import ffmpeg as ffmpeg_mod
from bsstream.audio.decode import open_input
from bsstream.audio.ffmpeg import Facts, Probe, classify, failure_detail, ffmpeg_exe, parse_duration
from bsstream.protocol.messages import BYTES_PER_SECOND
from bsstream.status import ExitStatus, InputError
from tests.conftest import tone_pcm, wav_bytes


def decode_everything(spec: str, stdin: io.BytesIO | None = None) -> bytes:
    with open_input(spec, stdin=stdin) as source:
        return b"".join(source.blocks())


def assert_input_error(exc: InputError, name: str, *fragments: str) -> None:
    line = exc.line()
    assert exc.exit_status == ExitStatus.INPUT == 4
    assert "\n" not in line and "\r" not in line
    assert line.startswith(f"{name}: "), line
    assert exc.hint, "tell the user what to do"
    for fragment in fragments:
        assert fragment.lower() in line.lower(), (fragment, line)
    assert len(line) < 300


def fails(spec: str, *fragments: str, name: str | None = None, stdin: io.BytesIO | None = None) -> str:
    """Opening and decoding ``spec`` raises InputError (up front or while streaming)."""
    with pytest.raises(InputError) as info:
        decode_everything(spec, stdin)
    assert_input_error(info.value, name or spec, *fragments)
    return info.value.line()


# --- up front: the file itself ----------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    fails(str(tmp_path / "nope.wav"), "no such file", "check the path")


def test_missing_file_error_is_raised_by_open_input(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        open_input(str(tmp_path / "nope.mp3"))


def test_directory(tmp_path: Path) -> None:
    fails(str(tmp_path), "is a directory")


def test_empty_path() -> None:
    with pytest.raises(InputError) as info:
        open_input("")
    assert_input_error(info.value, "input", "empty path")


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.wav").write_bytes(b"")
    fails(str(tmp_path / "empty.wav"), "empty")


def _open_input_as_nobody(path: str) -> str:
    """Run open_input(path) in a forked child with uid/gid 65534; return its outcome."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read_fd)
        try:
            os.setgid(65534)
            os.setuid(65534)
            try:
                open_input(path).close()
                outcome = "opened"
            except InputError as exc:
                outcome = f"InputError|{exc.exit_status}|{exc.line()}"
            except BaseException as exc:
                outcome = f"other|{exc!r}"
        except OSError as exc:
            outcome = f"setuid|{exc}"
        os.write(write_fd, outcome.encode())
        os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as r:
        outcome = r.read().decode()
    os.waitpid(pid, 0)
    return outcome


def test_unreadable_file(tmp_path: Path) -> None:
    folder = Path(tempfile.mkdtemp(prefix="bsstream-perm-"))
    try:
        folder.chmod(0o755)  # so an unprivileged user can reach the file
        path = folder / "locked.wav"
        path.write_bytes(wav_bytes(tone_pcm(0.5)))
        path.chmod(0)
        if os.geteuid() != 0:
            fails(str(path), "permission denied")
            return
        # root reads any file, so prove it the way a user meets it: as an unprivileged user
        assert os.access(path, os.R_OK), "root can read it: the check must not rely on mode bits"
        outcome = _open_input_as_nobody(str(path))
        if outcome.startswith("setuid|"):
            pytest.skip(f"running as root without CAP_SETUID, cannot drop privileges: {outcome}")
        kind, code, line = outcome.split("|", 2)
        assert kind == "InputError" and code == "4", outcome
        assert line.startswith(f"{path}: permission denied"), line
        assert "\n" not in line
    finally:
        (folder / "locked.wav").unlink(missing_ok=True)
        folder.rmdir()


# --- up front: not a usable WAV -------------------------------------------------------------


def _fmt16k() -> bytes:
    return b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, 16000, 32000, 2, 16)


@pytest.mark.parametrize(
    ("label", "raw", "fragment"),
    [
        ("riff_only", b"RIFF\x24\x00", "truncated"),
        ("riff_wave", b"RIFF\x24\x00\x00\x00WAVE", "truncated"),
        ("cut_in_fmt", wav_bytes(tone_pcm(0.1))[:30], "truncated"),
        ("no_data_chunk", b"RIFF\x24\x00\x00\x00WAVE" + _fmt16k(), "truncated"),
        ("huge_list_chunk", b"RIFF\x24\x00\x00\x00WAVE" + _fmt16k() + b"LIST\xff\xff\x00\x00ab", "truncated"),
        ("data_before_fmt", b"RIFF\x24\x00\x00\x00WAVEdata\x04\x00\x00\x00abcd", "before its fmt"),
        ("short_fmt", b"RIFF\x24\x00\x00\x00WAVEfmt \x04\x00\x00\x00abcddata\x00\x00\x00\x00", "too short"),
    ],
)
def test_broken_wav_header(tmp_path: Path, label: str, raw: bytes, fragment: str) -> None:
    path = tmp_path / f"{label}.wav"
    path.write_bytes(raw)
    with pytest.raises(InputError) as info:
        open_input(str(path))  # known up front
    assert_input_error(info.value, str(path), fragment)
    # the same bytes on stdin
    fails("-", fragment, name="stdin", stdin=io.BytesIO(raw))


def test_wav_with_no_samples(tmp_path: Path) -> None:
    path = tmp_path / "nothing.wav"
    path.write_bytes(wav_bytes(b""))
    fails(str(path), "no audio samples")


def test_wav_8k_with_no_samples(tmp_path: Path) -> None:
    path = tmp_path / "nothing8k.wav"
    path.write_bytes(wav_bytes(b"", rate=8000))
    fails(str(path), "no audio samples")


# --- found by ffmpeg --------------------------------------------------------------------------


def test_random_bytes_named_wav(tmp_path: Path) -> None:
    path = tmp_path / "random.wav"
    path.write_bytes(os.urandom(8000).replace(b"RIFF", b"FFIR"))
    with pytest.raises(InputError) as info:
        open_input(str(path))  # known up front: ffmpeg is waited for until it opened the input
    # our words, from a fact (its first bytes are no known format), the same with any ffmpeg
    assert_input_error(info.value, str(path), "not an audio file", "no audio or video format found")


def test_random_bytes_named_mp3(tmp_path: Path) -> None:
    path = tmp_path / "noise.mp3"
    path.write_bytes(bytes(range(256)) * 40)
    fails(str(path), "not an audio file")


def test_text_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("these are meeting notes, not a recording\n" * 20)
    fails(str(path), "not an audio file")


def test_video_without_audio_track(tmp_path: Path) -> None:
    path = tmp_path / "silent film.mp4"
    subprocess.run(
        [ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi",
         "-i", "testsrc=duration=1:size=64x48:rate=10", "-c:v", "mpeg4", str(path)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    with pytest.raises(InputError) as info:
        open_input(str(path))
    assert_input_error(info.value, str(path), "no audio track")


def test_empty_stdin() -> None:
    line = fails("-", "stdin is empty", name="stdin", stdin=io.BytesIO(b""))
    assert line.startswith("stdin: ")


def test_non_audio_stdin() -> None:
    fails("-", "not an audio file", name="stdin", stdin=io.BytesIO(b"hello, this is not audio\n" * 100))


def test_random_stdin() -> None:
    fails("-", name="stdin", stdin=io.BytesIO(bytes(range(256)) * 64))


def test_ffmpeg_failing_mid_stream_is_an_input_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ffmpeg dies after some audio: the audio so far is delivered, then an InputError with
    its last error line."""
    fake = tmp_path / "fake-ffmpeg"
    fake.write_text(
        "#!/bin/sh\n"
        "echo 'Input #0, mp3, from x:' >&2\n"
        "echo '  Duration: 00:00:03.50, start: 0.000000, bitrate: 64 kb/s' >&2\n"
        "echo 'Output #0, s16le, to pipe:1:' >&2\n"
        "head -c 64000 /dev/zero\n"
        "echo '[mp3float @ 0x1234] Header missing' >&2\n"
        "echo 'Error while decoding stream #0:0: Invalid data found when processing input' >&2\n"
        "echo 'Conversion failed!' >&2\n"
        "exit 1\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(ffmpeg_mod, "ffmpeg_exe", lambda: str(fake))
    path = tmp_path / "half broken.mp3"
    path.write_bytes(b"ID3" + bytes(100))
    source = open_input(str(path))
    assert source.duration == 3.5
    got = 0
    with pytest.raises(InputError) as info:
        for block in source.blocks():
            got += len(block)
    assert got == 64000
    assert_input_error(info.value, str(path), "Invalid data found")


def test_ffmpeg_missing_is_an_input_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ffmpeg_mod, "ffmpeg_exe", lambda: str(tmp_path / "no-such-ffmpeg"))
    path = tmp_path / "a.mp3"
    path.write_bytes(b"ID3" + bytes(100))
    fails(str(path), "cannot run ffmpeg")


# --- odd but valid (the other half of the suite) ------------------------------------------------


@pytest.mark.parametrize(
    ("label", "make"),
    [
        ("8-bit", lambda: wav_bytes(bytes(128 + (i % 50) for i in range(8000)), rate=8000, width=1)),
        ("24-bit", lambda: wav_bytes(b"".join(b"\x00" + s for s in _pairs(tone_pcm(0.5))), width=3)),
        ("under-100ms", lambda: wav_bytes(tone_pcm(0.06))),
        ("stereo-44k", lambda: wav_bytes(tone_pcm(0.5, rate=44100) * 2, rate=44100, channels=2)),
    ],
)
def test_odd_but_valid_wavs_decode(tmp_path: Path, label: str, make: Callable[[], bytes]) -> None:
    path = tmp_path / f"{label}.wav"
    path.write_bytes(make())
    out = decode_everything(str(path))
    assert len(out) > 0 and len(out) % 2 == 0
    assert len(out) >= 0.05 * BYTES_PER_SECOND


def _pairs(pcm: bytes) -> list[bytes]:
    return [pcm[i : i + 2] for i in range(0, len(pcm), 2)]


# --- the error text helpers ---------------------------------------------------------------------


def test_failure_detail_picks_the_specific_line() -> None:
    detail = failure_detail(
        [
            "[aac @ 0x55] channel element 1.0 is not allocated",
            "Error opening input files: Operation not permitted",
        ]
    )
    assert detail == "channel element 1.0 is not allocated"
    assert failure_detail([]) == ""
    assert len(failure_detail(["x" * 500])) < 120


def test_unknown_failure_is_generic_and_names_the_exit_code() -> None:
    failure = classify(Facts(183, 0, None, lambda: Probe(None, None, None), detail="something new"))
    assert failure.kind == "failed"
    assert "183" in failure.problem and failure.problem.endswith("(ffmpeg: something new)")


def test_parse_duration() -> None:
    assert parse_duration(b"  Duration: 01:02:03.50, start: 0.0") == pytest.approx(3723.5)
    assert parse_duration(b"  Duration: N/A, bitrate: N/A") is None
