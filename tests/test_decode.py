"""Decoding: every input becomes PCM16 16 kHz mono, streamed (bsstream/audio/decode.py).

Real recordings from ../shared/testdata, and inputs generated here into tmp_path: integer and
float WAVs at odd rates and channel counts, mu-law, video with sound, a sparse 2-hour WAV.
"""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import threading
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from bsstream.audio import decode, wav
from bsstream.audio.chunks import rechunk
from bsstream.audio.decode import BLOCK_BYTES, PcmSource, ffmpeg_exe, open_input
from bsstream.protocol.messages import BYTES_PER_SECOND
from tests.conftest import tone_pcm, wav_bytes, write_wav

# file -> (duration in SOURCES.md, the decoder that should handle it)
TESTDATA = {
    "01_jfk_16k_mono_s16.wav": (11.00, "native"),
    "02_M1F1_8k_stereo_mulaw.wav": (2.94, "ffmpeg"),
    "03_M1F1_8k_stereo_float32.wav": (2.94, "ffmpeg"),
    "04_LDC93S1_44k1_stereo_s16.wav": (2.92, "pydub"),
    "05_vctk_p286_011_48k_mono_s16.wav": (6.77, "pydub"),
    "06_jfk_44k1_stereo_24bit.flac": (11.00, "ffmpeg"),
    "07_commonvoice_en_651325_48k_mono.mp3": (2.38, "ffmpeg"),
    "08_whatstheweatherlike_16k_mono.opus": (4.11, "ffmpeg"),
    # mvhd says 11.05 s; ffmpeg trims the AAC priming/padding (iTunSMPB) to the 11.00 s clip
    "09_jfk_44k1_stereo_aac.m4a": (11.05, "ffmpeg"),
    "10_voxconverse_aepyx_8k_mono_s16_169s.wav": (169.15, "pydub"),
    "11_katiesteve_16k_mono_s16_gaps.wav": (29.49, "native"),
    "12_tts_orca_en_female_22k_mono_s16.wav": (2.35, "pydub"),
}
TOLERANCE = 0.050 + 0.0015  # 50 ms, plus the rounding of the figures in SOURCES.md


def decode_all(source: PcmSource) -> bytes:
    with source:
        blocks = list(source.blocks())
    for block in blocks:
        assert len(block) % 2 == 0 and 0 < len(block) <= BLOCK_BYTES
    return b"".join(blocks)


def samples(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2").astype(np.float64)


def rms_dbfs(pcm: bytes) -> float:
    x = samples(pcm)
    return 20 * np.log10(max(np.sqrt(np.mean(x**2)), 1e-9) / 32768)


def assert_speech_like(pcm: bytes) -> None:
    """Not silence: audible level, and the loud 20 ms frames well above the quiet ones
    (speech comes and goes; a constant hiss or DC would not)."""
    x = samples(pcm)
    assert rms_dbfs(pcm) > -50, "decoded as (near) silence"
    assert np.max(np.abs(x)) > 1000
    frames = x[: len(x) - len(x) % 320].reshape(-1, 320)
    energy_db = 10 * np.log10(np.mean(frames**2, axis=1) + 1.0)
    assert np.percentile(energy_db, 90) - np.percentile(energy_db, 10) > 15


def dominant_hz(pcm: bytes, rate: int = 16000) -> float:
    x = samples(pcm)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spectrum) * rate / len(x))


def write_wav_format(
    path: Path, signal: np.ndarray, *, rate: int, kind: str, extensible: bool = False
) -> Path:
    """A WAV of ``signal`` (frames x channels, floats in -1..1) as u8/s16/s24/s32/f32."""
    if signal.ndim == 1:
        signal = signal[:, None]
    channels = signal.shape[1]
    if kind == "f32":
        tag, width, data = 3, 4, signal.astype("<f4").tobytes()
    elif kind == "u8":
        tag, width, data = 1, 1, np.round(signal * 127 + 128).astype(np.uint8).tobytes()
    else:
        bits = {"s16": 16, "s24": 24, "s32": 32}[kind]
        ints = np.round(signal * (2 ** (bits - 1) - 1)).astype("<i4")
        width = bits // 8
        data = ints.view(np.uint8).reshape(-1, 4)[:, :width].tobytes() if bits == 24 else b""
        if bits != 24:
            data = ints.astype(f"<i{width}").tobytes()
        tag = 1
    block_align = channels * width
    if extensible:
        guid_tail = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
        fmt = struct.pack("<HHIIHH", 0xFFFE, channels, rate, rate * block_align, block_align, width * 8)
        fmt += struct.pack("<HHI", 22, width * 8, 0) + struct.pack("<H", tag) + guid_tail
    else:
        fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * block_align, block_align, width * 8)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data))
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body) + len(data)) + body + data)
    return path


def sine(seconds: float, rate: int, freq: float = 440.0, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return amplitude * np.sin(2 * np.pi * freq * t)


def gen_media(path: Path, *args: str) -> Path:
    """Make a test file with the bundled ffmpeg (lavfi sources, no network)."""
    cmd = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args, str(path)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)
    return path


def assert_reaped(pid: int) -> None:
    stat_file = Path(f"/proc/{pid}/stat")
    if stat_file.exists():  # pid reused or not yet gone: it must at least not be our zombie
        state = stat_file.read_text().rsplit(")", 1)[1].split()[0]
        assert state != "Z", f"ffmpeg {pid} is a zombie"
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


# --- the real recordings --------------------------------------------------------------------


@pytest.mark.parametrize("filename", sorted(TESTDATA))
def test_every_testdata_file_decodes(testdata: Path, filename: str) -> None:
    expected, path = TESTDATA[filename]
    source = open_input(str(testdata / filename))
    assert source.path == path
    assert source.name == str(testdata / filename)
    pcm = decode_all(source)
    seconds = len(pcm) / BYTES_PER_SECOND
    assert abs(seconds - expected) <= TOLERANCE, (filename, seconds)
    assert source.duration is not None and abs(source.duration - expected) <= TOLERANCE
    assert_speech_like(pcm)


def test_fast_path_is_byte_exact(testdata: Path) -> None:
    path = testdata / "11_katiesteve_16k_mono_s16_gaps.wav"
    source = open_input(str(path))
    assert source.path == "native"
    pcm = decode_all(source)
    raw = path.read_bytes()
    offset = raw.index(b"data") + 8
    assert pcm == raw[offset : offset + 471800 * 2]
    assert len(pcm) == round(source.duration * BYTES_PER_SECOND)  # type: ignore[operator]


def test_same_speech_through_every_decoder(testdata: Path) -> None:
    """The JFK clip as 16 kHz WAV (native), 24-bit 44.1 kHz FLAC and AAC (ffmpeg) lines up."""
    ref = samples(decode_all(open_input(str(testdata / "01_jfk_16k_mono_s16.wav"))))
    for other in ("06_jfk_44k1_stereo_24bit.flac", "09_jfk_44k1_stereo_aac.m4a"):
        x = samples(decode_all(open_input(str(testdata / other))))
        n = min(len(ref), len(x))
        # envelopes over 20 ms frames: robust to codec and resampler phase differences
        env_a = np.sqrt(np.mean(ref[: n - n % 320].reshape(-1, 320) ** 2, axis=1))
        env_b = np.sqrt(np.mean(x[: n - n % 320].reshape(-1, 320) ** 2, axis=1))
        assert np.corrcoef(env_a, env_b)[0, 1] > 0.95, other


def test_mulaw_and_float_versions_agree(testdata: Path) -> None:
    a = samples(decode_all(open_input(str(testdata / "02_M1F1_8k_stereo_mulaw.wav"))))
    b = samples(decode_all(open_input(str(testdata / "03_M1F1_8k_stereo_float32.wav"))))
    assert len(a) == len(b)
    assert np.corrcoef(a, b)[0, 1] > 0.99


# --- generated WAV formats ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "rate", "channels", "extensible"),
    [
        ("u8", 16000, 1, False),
        ("s16", 44100, 2, False),
        ("s24", 48000, 2, False),
        ("s24", 16000, 1, True),
        ("s32", 22050, 1, False),
        ("f32", 16000, 1, False),
        ("f32", 48000, 2, True),
        ("s16", 96000, 6, False),
    ],
)
@pytest.mark.parametrize("force_ffmpeg", [False, True], ids=["default", "ffmpeg"])
def test_wav_formats(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    kind: str,
    rate: int,
    channels: int,
    extensible: bool,
    force_ffmpeg: bool,
) -> None:
    if force_ffmpeg:
        monkeypatch.setattr(decode, "PYDUB_MAX_BYTES", 0)
    tone = sine(1.5, rate)
    signal = np.stack([tone * (1 - 0.1 * c) for c in range(channels)], axis=1)
    path = write_wav_format(tmp_path / f"{kind}.wav", signal, rate=rate, kind=kind, extensible=extensible)
    source = open_input(str(path))
    expected_path = "pydub" if kind != "f32" and not force_ffmpeg else "ffmpeg"
    assert source.path == expected_path
    assert source.duration == pytest.approx(1.5, abs=1e-6)
    pcm = decode_all(source)
    assert abs(len(pcm) / BYTES_PER_SECOND - 1.5) < 0.005
    assert dominant_hz(pcm) == pytest.approx(440, abs=2)
    assert rms_dbfs(pcm) > -20  # a 0.5 amplitude sine is about -9 dBFS; a downmix may lower it


def test_mulaw_8k_generated(tmp_path: Path) -> None:
    path = gen_media(
        tmp_path / "mulaw.wav", "-f", "lavfi", "-i", "sine=frequency=440:duration=2:sample_rate=8000",
        "-acodec", "pcm_mulaw",
    )  # fmt: skip
    source = open_input(str(path))
    assert source.path == "ffmpeg"
    pcm = decode_all(source)
    assert abs(len(pcm) / BYTES_PER_SECOND - 2.0) < 0.005
    assert dominant_hz(pcm) == pytest.approx(440, abs=2)


def test_under_100_ms(tmp_path: Path) -> None:
    for rate, path_name in ((16000, "native"), (44100, "pydub")):
        path = write_wav(tmp_path / f"short{rate}.wav", tone_pcm(0.05, rate=rate), rate=rate)
        source = open_input(str(path))
        assert source.path == path_name
        pcm = decode_all(source)
        assert abs(len(pcm) / BYTES_PER_SECOND - 0.05) < 0.002


def test_one_sample(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "one.wav", b"\x01\x02")
    assert decode_all(open_input(str(path))) == b"\x01\x02"


def test_ten_second_tone_round_trip_exact(tmp_path: Path) -> None:
    pcm = tone_pcm(10.0)
    path = write_wav(tmp_path / "tone.wav", pcm)
    source = open_input(str(path))
    assert source.path == "native"
    assert source.duration == 10.0
    out = decode_all(source)
    assert out == pcm
    assert len(out) == 10 * BYTES_PER_SECOND
    chunks = list(rechunk([out], 8000))
    assert all(len(c) == 8000 for c in chunks) and len(chunks) == 40


def test_wav_with_trailing_chunk_stops_at_data_end(tmp_path: Path) -> None:
    pcm = tone_pcm(0.5)
    raw = wav_bytes(pcm) + b"LIST" + struct.pack("<I", 4) + b"INFO"
    (tmp_path / "trail.wav").write_bytes(raw)
    assert decode_all(open_input(str(tmp_path / "trail.wav"))) == pcm


def test_wav_odd_chunk_padding_and_extra_chunks(tmp_path: Path) -> None:
    pcm = tone_pcm(0.25)
    fmt = struct.pack("<HHIIHH", 1, 1, 16000, 32000, 2, 16)
    body = (
        b"WAVE" + b"JUNK" + struct.pack("<I", 3) + b"abc\x00"  # odd size + pad byte
        + b"fmt " + struct.pack("<I", 16) + fmt
        + b"LIST" + struct.pack("<I", 4) + b"INFO"
        + b"data" + struct.pack("<I", len(pcm)) + pcm
    )  # fmt: skip
    (tmp_path / "odd.wav").write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    source = open_input(str(tmp_path / "odd.wav"))
    assert source.path == "native"
    assert decode_all(source) == pcm


def test_odd_trailing_byte_dropped(tmp_path: Path) -> None:
    pcm = tone_pcm(0.1)
    raw = bytearray(wav_bytes(pcm) + b"\x7f")
    raw[40:44] = struct.pack("<I", len(pcm) + 1)
    (tmp_path / "odd_tail.wav").write_bytes(bytes(raw))
    assert decode_all(open_input(str(tmp_path / "odd_tail.wav"))) == pcm


@pytest.mark.parametrize("claimed", ["longer", "shorter", "zero", "ffffffff"])
@pytest.mark.parametrize("rate", [16000, 8000])
def test_wav_with_wrong_data_length(tmp_path: Path, claimed: str, rate: int) -> None:
    pcm = tone_pcm(1.0, rate=rate)
    raw = bytearray(wav_bytes(pcm, rate=rate))
    size = {"longer": len(pcm) * 10, "shorter": len(pcm) // 2, "zero": 0, "ffffffff": 0xFFFFFFFF}[claimed]
    raw[40:44] = struct.pack("<I", size)
    path = tmp_path / f"{claimed}.wav"
    path.write_bytes(bytes(raw))
    out = decode_all(open_input(str(path)))
    seconds = 0.5 if claimed == "shorter" else 1.0
    assert abs(len(out) / BYTES_PER_SECOND - seconds) < 0.005
    if rate == 16000:
        assert out == pcm[: int(seconds * BYTES_PER_SECOND)]


# --- streams --------------------------------------------------------------------------------


def test_stdin_native_wav_with_bogus_length() -> None:
    pcm = tone_pcm(2.0)
    raw = bytearray(wav_bytes(pcm))
    raw[4:8] = raw[40:44] = struct.pack("<I", 0xFFFFFFFF)
    source = open_input("-", stdin=io.BytesIO(bytes(raw)))
    assert source.name == "stdin" and source.path == "native"
    assert source.duration is None
    assert decode_all(source) == pcm


def test_stdin_native_wav_with_zero_length() -> None:
    pcm = tone_pcm(1.0)
    raw = bytearray(wav_bytes(pcm))
    raw[40:44] = struct.pack("<I", 0)
    assert decode_all(open_input("-", stdin=io.BytesIO(bytes(raw)))) == pcm


def test_stdin_wav_with_known_length() -> None:
    pcm = tone_pcm(1.0)
    source = open_input("-", stdin=io.BytesIO(wav_bytes(pcm)))
    assert source.duration == 1.0
    assert decode_all(source) == pcm


def test_stdin_resampled_wav_with_bogus_length_goes_through_ffmpeg() -> None:
    pcm = tone_pcm(2.0, rate=44100)
    raw = bytearray(wav_bytes(pcm, rate=44100))
    raw[40:44] = struct.pack("<I", 0xFFFFFFFF)
    source = open_input("-", stdin=io.BytesIO(bytes(raw)))
    assert source.path == "ffmpeg"
    out = decode_all(source)
    assert abs(len(out) / BYTES_PER_SECOND - 2.0) < 0.005
    assert dominant_hz(out) == pytest.approx(220, abs=2)


def test_stdin_compressed(testdata: Path) -> None:
    data = (testdata / "08_whatstheweatherlike_16k_mono.opus").read_bytes()
    source = open_input("-", stdin=io.BytesIO(data))
    assert source.path == "ffmpeg"
    out = decode_all(source)
    assert abs(len(out) / BYTES_PER_SECOND - 4.11) < TOLERANCE
    assert_speech_like(out)


def test_fifo_input_is_read_like_stdin(tmp_path: Path) -> None:
    fifo = tmp_path / "audio.fifo"
    os.mkfifo(fifo)
    payload = wav_bytes(tone_pcm(1.0, rate=8000), rate=8000)

    def writer() -> None:
        with open(fifo, "wb") as f:
            f.write(payload)

    t = threading.Thread(target=writer)
    t.start()
    source = open_input(str(fifo))
    assert source.name == str(fifo) and source.path == "ffmpeg"
    out = decode_all(source)
    t.join(5)
    assert abs(len(out) / BYTES_PER_SECOND - 1.0) < 0.005


# --- containers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("suffix", "codecs"),
    [("mp4", ["-c:v", "mpeg4", "-c:a", "aac"]), ("webm", ["-c:v", "libvpx", "-c:a", "libopus"])],
)
def test_video_with_audio_track(tmp_path: Path, suffix: str, codecs: list[str]) -> None:
    path = gen_media(
        tmp_path / f"clip.{suffix}",
        "-f", "lavfi", "-i", "testsrc=duration=2:size=64x48:rate=10",
        "-f", "lavfi", "-i", "sine=frequency=440:duration=2:sample_rate=48000",
        *codecs, "-shortest",
    )  # fmt: skip
    source = open_input(str(path))
    assert source.path == "ffmpeg"
    assert source.duration is not None and abs(source.duration - 2.0) < 0.1
    out = decode_all(source)
    assert abs(len(out) / BYTES_PER_SECOND - 2.0) < 0.1
    assert dominant_hz(out) == pytest.approx(440, abs=3)


def test_path_with_spaces_and_unicode(tmp_path: Path, testdata: Path) -> None:
    folder = tmp_path / "calls ünïcødé 通話"
    folder.mkdir()
    for name, content in [
        ("a b ☎.wav", (testdata / "01_jfk_16k_mono_s16.wav").read_bytes()),
        ("-dash: colon é.mp3", (testdata / "07_commonvoice_en_651325_48k_mono.mp3").read_bytes()),
    ]:
        path = folder / name
        path.write_bytes(content)
        source = open_input(str(path))
        assert source.name == str(path)
        assert len(decode_all(source)) > BYTES_PER_SECOND


# --- streaming, memory and close() ------------------------------------------------------------


def sparse_wav(path: Path, seconds: int, rate: int) -> int:
    """A WAV header claiming ``seconds`` of 16-bit mono, with the samples as a sparse hole."""
    size = seconds * rate * 2
    header = wav_bytes(b"", rate=rate)
    header = header[:4] + struct.pack("<I", 36 + size) + header[8:40] + struct.pack("<I", size)
    with open(path, "wb") as f:
        f.write(header)
        f.truncate(len(header) + size)
    return size


def test_two_hour_wav_streams_natively_without_loading(tmp_path: Path) -> None:
    path = tmp_path / "two_hours.wav"
    size = sparse_wav(path, 7200, 16000)
    tracemalloc.start()
    try:
        started = time.perf_counter()
        source = open_input(str(path))
        blocks = source.blocks()
        first = next(blocks)
        first_after = time.perf_counter() - started
        total = len(first)
        biggest = len(first)
        for block in blocks:
            total += len(block)
            biggest = max(biggest, len(block))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        source.close()
    print(f"2 h native: first block after {first_after * 1000:.1f} ms, peak {peak / 1024:.0f} KiB")
    assert source.path == "native"
    assert source.duration == 7200.0
    assert total == size == 7200 * BYTES_PER_SECOND
    assert biggest <= BLOCK_BYTES
    assert peak < 2 * 1024 * 1024  # ~230 MB streamed through a couple of blocks of memory


def test_two_hour_wav_needing_resampling_streams_through_ffmpeg(tmp_path: Path) -> None:
    path = tmp_path / "two_hours_8k.wav"
    sparse_wav(path, 7200, 8000)
    tracemalloc.start()
    try:
        started = time.perf_counter()
        source = open_input(str(path))
        assert source.path == "ffmpeg"
        blocks = source.blocks()
        first = next(blocks)
        first_after = time.perf_counter() - started
        got = len(first)
        for block in blocks:
            got += len(block)
            assert len(block) <= BLOCK_BYTES
            if got >= 60 * BYTES_PER_SECOND:
                break
        _, peak = tracemalloc.get_traced_memory()
        pid = source.pid  # type: ignore[attr-defined]
    finally:
        tracemalloc.stop()
    source.close()
    print(f"2 h via ffmpeg: first block after {first_after * 1000:.1f} ms, peak {peak / 1024:.0f} KiB")
    assert source.duration == 7200.0
    assert peak < 2 * 1024 * 1024
    assert_reaped(pid)
    assert list(blocks) == []  # closed: the iterator has ended


@pytest.mark.parametrize(("rate", "path"), [(8000, "ffmpeg"), (16000, "native")])
def test_close_from_another_thread_ends_a_blocked_consumer(rate: int, path: str) -> None:
    """Live stdin that stops sending without closing: close() releases the waiting consumer."""
    read_fd, write_fd = os.pipe()
    reader = os.fdopen(read_fd, "rb")
    writer = os.fdopen(write_fd, "wb")
    try:
        writer.write(wav_bytes(tone_pcm(1.0, rate=rate), rate=rate)[:-2000])  # header says more follows
        writer.flush()
        source = open_input("-", stdin=reader)
        assert source.path == path
        got: list[int] = []
        errors: list[BaseException] = []

        def consume() -> None:
            try:
                for block in source.blocks():
                    got.append(len(block))
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        consumer = threading.Thread(target=consume)
        consumer.start()
        deadline = time.monotonic() + 10
        while not got and time.monotonic() < deadline:
            time.sleep(0.01)
        assert got, "no audio before close"
        time.sleep(0.1)  # the consumer is now blocked waiting for more input
        assert consumer.is_alive()
        source.close()
        consumer.join(5)
        assert not consumer.is_alive(), "close() did not end the consumer"
        assert errors == []
        assert 0 < sum(got) < 32000
        if path == "ffmpeg":
            assert_reaped(source.pid)  # type: ignore[attr-defined]
        source.close()  # idempotent
    finally:
        writer.close()
        reader.close()


def test_close_before_reading_reaps_ffmpeg(testdata: Path) -> None:
    with open_input(str(testdata / "06_jfk_44k1_stereo_24bit.flac")) as source:
        pid = source.pid  # type: ignore[attr-defined]
    assert_reaped(pid)
    assert list(source.blocks()) == []


def test_exhausting_the_iterator_reaps_ffmpeg(testdata: Path) -> None:
    source = open_input(str(testdata / "07_commonvoice_en_651325_48k_mono.mp3"))
    assert len(b"".join(source.blocks())) > 0
    assert_reaped(source.pid)  # type: ignore[attr-defined]


def test_blocks_may_be_called_once(testdata: Path) -> None:
    with open_input(str(testdata / "01_jfk_16k_mono_s16.wav")) as source:
        source.blocks()
        with pytest.raises(RuntimeError):
            source.blocks()


def test_native_close_mid_stream_closes_the_file(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "t.wav", tone_pcm(5.0))
    source = open_input(str(path))
    blocks = source.blocks()
    next(blocks)
    source.close()
    assert list(blocks) == []
    assert source._stream.closed  # type: ignore[attr-defined]


# --- the binary and the import cost ---------------------------------------------------------


def test_ffmpeg_exe_is_cached_and_points_pydub_at_it() -> None:
    from pydub import AudioSegment

    exe = ffmpeg_exe()
    assert os.access(exe, os.X_OK)
    assert ffmpeg_exe() is exe
    assert AudioSegment.converter == exe


def test_importing_decode_does_not_import_heavy_modules() -> None:
    code = (
        "import sys, bsstream.audio.decode\n"
        "heavy = [m for m in ('pydub', 'numpy', 'imageio_ffmpeg') if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == ""


def test_wav_parser_recognises_extensible_and_placeholders() -> None:
    raw = bytearray(wav_bytes(tone_pcm(0.1)))
    raw[40:44] = struct.pack("<I", 0xFFFFFFFF)
    header = wav.read_header(io.BytesIO(bytes(raw[12:])).read, prefix=bytes(raw[:12]))
    assert header.is_pcm16_16k_mono and header.data_size is None and header.data_offset == 44
    assert header.header_bytes == bytes(raw[:44])
