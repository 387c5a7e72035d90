"""Which ffmpeg runs, live input starting promptly with any of them, and failures explained
from facts (the same words from the bundled ffmpeg 9 and Debian's 5.1).

Tests that take a ``binary`` run once with the bundled ffmpeg and once with Debian's
``/usr/bin/ffmpeg`` (skipped, with the reason shown, where it is not installed), chosen the
way a user chooses: through ``BSSTREAM_FFMPEG``.
"""

from __future__ import annotations

import io
import os
import random
import stat
import struct
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from bsstream.audio import sniff as sniff_mod
from bsstream.audio.decode import open_input
from bsstream.audio.ffmpeg import ENV_VAR, Facts, Probe, classify, decode_command, ffmpeg_exe
from bsstream.status import ExitStatus, InputError
from tests.clirun import bsstream
from tests.conftest import tone_pcm, wav_bytes

DEBIAN_FFMPEG = "/usr/bin/ffmpeg"
BINARIES = [
    pytest.param("bundled", id="bundled"),
    pytest.param(
        DEBIAN_FFMPEG,
        id="debian",
        marks=pytest.mark.skipif(
            not os.access(DEBIAN_FFMPEG, os.X_OK),
            reason=f"{DEBIAN_FFMPEG} is not installed (apt-get install ffmpeg)",
        ),
    ),
]


@pytest.fixture
def binary(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Select the ffmpeg for this test through BSSTREAM_FFMPEG, as a user would."""
    choice: str = request.param
    if choice == "bundled":
        monkeypatch.delenv(ENV_VAR, raising=False)
    else:
        monkeypatch.setenv(ENV_VAR, choice)
    return choice


def bundled_exe() -> str:
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


def make_with_bundled(path: Path, *args: str) -> Path:
    """Make a test input with the bundled ffmpeg (lavfi sources, no network)."""
    cmd = [bundled_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args, str(path)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)
    return path


def executable(path: Path, text: str = "#!/bin/sh\nexit 0\n") -> Path:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


# --- which binary ------------------------------------------------------------------------------


def test_bundled_ffmpeg_is_the_default_even_with_one_on_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    executable(tmp_path / "ffmpeg")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert ffmpeg_exe() == bundled_exe()


def test_the_bundled_binary_is_found_without_importing_imageio_ffmpeg() -> None:
    """The same binary imageio-ffmpeg names, found without its import and its ``-version`` run."""
    done = subprocess.run(
        [sys.executable, "-c",
         "import sys\nfrom bsstream.audio.ffmpeg import ffmpeg_exe\n"
         "print(ffmpeg_exe())\nprint('imageio_ffmpeg' in sys.modules)"],
        capture_output=True, text=True, timeout=60, check=True,
        env={k: v for k, v in os.environ.items() if k not in (ENV_VAR, "IMAGEIO_FFMPEG_EXE")},
    )  # fmt: skip
    exe, imported = done.stdout.split("\n")[:2]
    assert (exe, imported) == (bundled_exe(), "False")


def test_imageio_ffmpegs_own_variable_is_still_honoured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bsstream.audio import ffmpeg

    fake = executable(tmp_path / "their-ffmpeg")
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setenv("IMAGEIO_FFMPEG_EXE", str(fake))
    ffmpeg._resolve.cache_clear()
    try:
        assert ffmpeg_exe() == str(fake)
    finally:
        ffmpeg._resolve.cache_clear()


def test_env_names_a_path_or_a_name_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = executable(tmp_path / "my-ffmpeg")
    monkeypatch.setenv(ENV_VAR, str(fake))
    assert ffmpeg_exe() == str(fake)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv(ENV_VAR, "my-ffmpeg")
    assert ffmpeg_exe() == str(fake)
    monkeypatch.setenv(ENV_VAR, "")  # empty: as if unset
    assert ffmpeg_exe() == bundled_exe()


@pytest.mark.parametrize("value", ["/no/such/ffmpeg", "no-such-ffmpeg-anywhere", "not-executable"])
def test_env_naming_nothing_executable_is_one_line_exit_4(
    value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if value == "not-executable":
        value = str(tmp_path / "ffmpeg.txt")
        Path(value).write_text("not a program")
    mp3 = make_with_bundled(tmp_path / "a.mp3", "-f", "lavfi", "-i", "sine=duration=0.5")
    monkeypatch.setenv(ENV_VAR, value)
    with pytest.raises(InputError) as info:
        open_input(str(mp3))
    line = info.value.line()
    assert info.value.exit_status == ExitStatus.INPUT
    assert line.startswith(f"{mp3}: cannot run ffmpeg ({ENV_VAR}={value} is not an executable file")
    assert f"unset {ENV_VAR}" in line and "\n" not in line


def test_env_naming_nothing_at_the_command_line(tmp_path: Path) -> None:
    mp3 = make_with_bundled(tmp_path / "a.mp3", "-f", "lavfi", "-i", "sine=duration=0.5")
    r = bsstream("analyze", str(mp3), "--local", "--json", env={ENV_VAR: str(tmp_path / "nope")})
    assert r.code == 4
    (line,) = [x for x in r.err.splitlines() if not x.startswith("note:")]
    assert line.startswith("error: ") and f"{ENV_VAR}=" in line and "Traceback" not in r.err


@pytest.mark.parametrize(("rate", "path"), [(16000, "native"), (8000, "soxr")])
def test_a_wav_needing_no_ffmpeg_works_whatever_the_variable_says(
    rate: int, path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wav = tmp_path / "t.wav"
    wav.write_bytes(wav_bytes(tone_pcm(0.2, rate=rate), rate=rate))
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "nope"))
    with open_input(str(wav)) as source:
        assert source.path == path
        assert abs(sum(len(b) for b in source.blocks()) - 6400) <= 32  # 0.2 s (resampling: +-1 ms)


# --- live input starts promptly -----------------------------------------------------------------


def test_low_latency_flags_only_for_live_input_with_a_named_format() -> None:
    raw = ["-f", "s16le", "-ar", "8000", "-ac", "1"]
    live_raw = decode_command("ffmpeg", "pipe:0", input_options=raw, live=True)
    assert live_raw[live_raw.index("-probesize") + 1] == "32"
    assert live_raw.index("-probesize") < live_raw.index("-i")
    assert "-flush_packets" in live_raw
    # sniffed by ffmpeg itself (mp3, ogg ...): its probing must see enough to tell the format
    assert "-probesize" not in decode_command("ffmpeg", "pipe:0", live=True)
    assert "-probesize" not in decode_command("ffmpeg", "file:/a.wav", input_options=raw)
    assert "-flush_packets" not in decode_command("ffmpeg", "file:/a.mp3")


def test_files_are_regrouped_into_large_frames_and_live_input_is_not() -> None:
    regroup = decode_command("ffmpeg", "file:/a.mp3")
    assert "asetnsamples=n=4000:p=0" in regroup[regroup.index("-af") + 1]
    split = decode_command("ffmpeg", "file:/a.mp3", keep_channels=True)
    assert "channel_layouts" not in split[split.index("-af") + 1]  # split keeps the channels
    assert "-af" not in decode_command("ffmpeg", "pipe:0", live=True)


@pytest.mark.parametrize("binary", BINARIES, indirect=True)
@pytest.mark.parametrize(
    "recording", ["07_commonvoice_en_651325_48k_mono.mp3", "10_voxconverse_aepyx_8k_mono_s16_169s.wav"]
)
def test_regrouped_frames_carry_the_same_bytes(
    binary: str, recording: str, testdata: Path, tmp_path: Path
) -> None:
    """What bsstream reads from ffmpeg (frames regrouped) is byte for byte ffmpeg's plain
    ``-ac 1 -ar 16000`` conversion, with the bundled ffmpeg 9 and Debian's 5.1."""
    path = testdata / recording
    source = tmp_path / "in.mp3"
    if path.suffix == ".wav":  # a WAV would be resampled in-process: a stereo FLAC of it
        source = make_with_bundled(tmp_path / "in.flac", "-i", str(path), "-ac", "2", "-c:a", "flac")
    else:
        source.write_bytes(path.read_bytes())
    with open_input(str(source)) as decoded:
        assert decoded.path == "ffmpeg"
        got = b"".join(decoded.blocks())
    plain = subprocess.run(
        [ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-i", str(source),
         "-ac", "1", "-ar", "16000", "-f", "s16le", "pipe:1"],
        capture_output=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    assert len(got) > 16000 and got == plain


BLOCK = 2000  # bytes the slow writer sends at a time
BLOCKS = 7  # 14 KB in all: less than ffmpeg 5.1 probed before its first output (24-32 KB)
PACE = 1.0  # seconds the writer waits after each block, until the first output


def _pcm8k_stream(tmp_path: Path) -> tuple[bytes, bytes]:
    pcm = tone_pcm(BLOCK * BLOCKS / 16000, rate=8000)
    data = wav_bytes(pcm, rate=8000)
    return data[:44], data[44:]


def _adpcm_stream(tmp_path: Path) -> tuple[bytes, bytes]:
    path = make_with_bundled(
        tmp_path / "adpcm.wav",
        "-f", "lavfi", "-i", "sine=frequency=300:duration=6:sample_rate=8000", "-c:a", "adpcm_ms",
    )  # fmt: skip
    data = path.read_bytes()
    data_at = data.index(b"data") + 8
    return data[:data_at], data[data_at : data_at + BLOCK * BLOCKS]


@pytest.mark.parametrize("kind", ["pcm-8k", "adpcm"])
@pytest.mark.parametrize("binary", BINARIES, indirect=True)
def test_live_input_gives_audio_before_the_input_is_complete(binary: str, kind: str, tmp_path: Path) -> None:
    """A WAV arriving slowly on a pipe: the first PCM comes out before the writer has sent its
    last block (an ordering, not a time: the writer waits up to PACE s per block for it)."""
    header, body = (_pcm8k_stream if kind == "pcm-8k" else _adpcm_stream)(tmp_path)
    read_fd, write_fd = os.pipe()
    reader, writer = os.fdopen(read_fd, "rb"), os.fdopen(write_fd, "wb")
    first_output = threading.Event()
    sent_before_output: list[int] = []

    def write_slowly() -> None:
        try:
            for i in range(0, len(body), BLOCK):
                if not first_output.is_set():
                    sent_before_output.append(i // BLOCK + 1)
                writer.write(body[i : i + BLOCK])
                writer.flush()
                first_output.wait(PACE)  # paced until the first output, then as fast as it goes
        except BrokenPipeError:  # pragma: no cover - reported by the assertions below
            pass
        finally:
            writer.close()

    writer.write(header)
    writer.flush()
    feeder = threading.Thread(target=write_slowly, daemon=True)
    try:
        feeder.start()
        with open_input("-", stdin=reader) as source:
            assert source.path == "ffmpeg"
            got = 0
            for block in source.blocks():
                if not first_output.is_set():
                    blocks_sent = len(sent_before_output)
                    first_output.set()
                got += len(block)
        feeder.join(30)
        assert first_output.is_set() and got > 0
        assert blocks_sent < BLOCKS, f"no audio until all {BLOCKS} blocks of input had been written"
        print(f"{kind} via {binary}: first PCM after {blocks_sent} of {BLOCKS} blocks of {BLOCK} bytes")
    finally:
        first_output.set()
        reader.close()


# --- failures explained from facts, alike with every binary ----------------------------------------


def _bad_input(kind: str, tmp_path: Path) -> Path:
    if kind == "random-named-mp3":
        path = tmp_path / "noise.mp3"
        path.write_bytes(bytes(range(256)) * 40)
    elif kind == "text":
        path = tmp_path / "notes.wav"
        path.write_text("meeting notes, not a recording\n" * 40)
    elif kind == "png":
        path = tmp_path / "picture.mp3"
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(2000))
    elif kind == "video-no-audio":
        path = make_with_bundled(
            tmp_path / "v.mp4", "-f", "lavfi", "-i", "testsrc=duration=1:size=64x48:rate=10", "-c:v", "mpeg4"
        )
    elif kind == "cut-flac":
        full = make_with_bundled(tmp_path / "full.flac", "-f", "lavfi", "-i", "sine=duration=2")
        path = tmp_path / "cut.flac"
        path.write_bytes(full.read_bytes()[:3000])
    elif kind == "unknown-wav-codec":
        path = tmp_path / "odd.wav"
        raw = bytearray(wav_bytes(tone_pcm(0.5), rate=8000))
        raw[20:22] = struct.pack("<H", 0x1234)  # a format tag no decoder knows
        path.write_bytes(bytes(raw))
    else:  # pragma: no cover
        raise AssertionError(kind)
    return path


BAD = [
    ("random-named-mp3", "not-audio", "not an audio file"),
    ("text", "not-audio", "not an audio file (it is text)"),
    ("png", "not-audio", "not an audio file (it is a PNG image)"),
    ("video-no-audio", "no-audio-track", "no audio track"),
    ("cut-flac", "unreadable", "could not read the FLAC data"),
    ("unknown-wav-codec", "no-decoder", "unknown WAV format tag 0x1234"),
]


@pytest.mark.parametrize(("kind", "expected_kind", "words"), BAD, ids=[b[0] for b in BAD])
@pytest.mark.parametrize("binary", BINARIES, indirect=True)
def test_the_same_failure_with_every_binary(
    binary: str, kind: str, expected_kind: str, words: str, tmp_path: Path
) -> None:
    path = _bad_input(kind, tmp_path)
    with pytest.raises(InputError) as info, open_input(str(path)) as source:
        b"".join(source.blocks())
    exc = info.value
    assert exc.exit_status == ExitStatus.INPUT
    assert getattr(exc, "kind", None) == expected_kind, exc.line()
    assert exc.line().startswith(f"{path}: {words}"), exc.line()
    assert exc.hint and "\n" not in exc.line()


@pytest.mark.parametrize("binary", BINARIES, indirect=True)
def test_the_same_failure_on_stdin_with_every_binary(binary: str, tmp_path: Path) -> None:
    video = _bad_input("video-no-audio", tmp_path).read_bytes()
    for data, kind in [(video, "no-audio-track"), (b"hello, not audio\n" * 50, "not-audio")]:
        with pytest.raises(InputError) as info, open_input("-", stdin=io.BytesIO(data)) as source:
            b"".join(source.blocks())
        assert getattr(info.value, "kind", None) == kind, info.value.line()
        assert info.value.line().startswith("stdin: ")


def test_stderr_wording_never_decides() -> None:
    """The same facts with any ffmpeg messages give the same kind and words; the message only
    rides along as a detail."""

    def never() -> Probe:  # pragma: no cover - must not be needed
        raise AssertionError("no probe for a file that is no known format")

    words = set()
    for detail in ["Invalid data found when processing input", "noise.mp3: Invalid argument", ""]:
        failure = classify(Facts(1, 0, bytes(range(256)) * 4, never, detail=detail))
        assert failure.kind == "not-audio"
        words.add(failure.problem)
    assert len(words) == 1
    flac = b"fLaC" + bytes(100)
    for rc in (1, 183, 234):
        failure = classify(Facts(rc, 0, flac, lambda: Probe(True, True, True), detail="whatever 5.1 says"))
        assert failure.kind == "undecodable"
        assert failure.problem == "could not decode the FLAC audio (ffmpeg: whatever 5.1 says)"
    cut = classify(Facts(1, 32000 * 3, flac, never, detail="x"))
    assert cut.kind == "cut-short" and "after 3.0 s" in cut.problem
    killed = classify(Facts(-9, 0, flac, never))
    assert killed.kind == "failed" and "signal 9" in killed.problem


# --- sniffing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "name"),
    [
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", "WAV"),
        (b"RF64\xff\xff\xff\xffWAVEds64", "WAV"),
        (b"FORM\x00\x00\x10\x00AIFF", "AIFF"),
        (b"fLaC\x00\x00\x00\x22", "FLAC"),
        (b"OggS" + bytes(24) + b"OpusHead", "Ogg Opus"),
        (b"OggS" + bytes(24) + b"\x01vorbis", "Ogg Vorbis"),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00", "MP3"),
        (b"\x00\x00\x00\x20ftypM4A \x00\x00", "M4A"),
        (b"\x00\x00\x00\x20ftypisom\x00\x00", "MP4"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x82\x84webm", "WebM"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x82\x88matroska", "Matroska"),
        (b"#!AMR\n", "AMR"),
    ],
)
def test_sniff_known_formats(head: bytes, name: str) -> None:
    found = sniff_mod.sniff(head)
    assert found is not None and found.media and found.name == name


@pytest.mark.parametrize(("codec", "name"), [("libmp3lame", "MP3"), ("aac", "AAC")])
def test_sniff_bare_mpeg_and_adts_frames(codec: str, name: str, tmp_path: Path) -> None:
    """MP3 without an ID3 tag and raw ADTS AAC have no signature, only frame sync words."""
    fmt = "mp3" if codec == "libmp3lame" else "adts"
    bare = ["-id3v2_version", "0", "-write_xing", "0"] if fmt == "mp3" else []
    path = make_with_bundled(
        tmp_path / f"x.{fmt}", "-f", "lavfi", "-i", "sine=duration=1", "-c:a", codec, *bare, "-f", fmt
    )
    head = path.read_bytes()[: sniff_mod.HEAD_BYTES]
    assert head[:3] != b"ID3"
    found = sniff_mod.sniff(head)
    assert found is not None and found.name == name


def test_random_bytes_are_never_taken_for_mpeg_frames() -> None:
    rng = random.Random(10)
    for _ in range(3000):
        head = bytes([0xFF, rng.choice([0xE0, 0xF0]) | rng.randrange(16)]) + rng.randbytes(3000)
        found = sniff_mod.sniff(head)
        assert found is None or not found.media or found.name not in ("MP3", "AAC"), head[:8].hex()


@pytest.mark.parametrize(
    ("head", "name"),
    [
        (b"\x89PNG\r\n\x1a\n", "PNG image"),
        (b"%PDF-1.7\n", "PDF document"),
        ("plain text, ünïcode too\n".encode(), "text"),
    ],
)
def test_sniff_files_that_are_not_media(head: bytes, name: str) -> None:
    found = sniff_mod.sniff(head)
    assert found is not None and not found.media and found.name == name


def test_sniff_unknown() -> None:
    assert sniff_mod.sniff(bytes(range(256)) * 40) is None
    assert sniff_mod.sniff(b"") is None
