"""The in-process WAV path (libsoxr, through ctypes or numpy + python-soxr): what it sends
matches ffmpeg's soxr resampler, memory stays flat, and the first block comes after one read."""

from __future__ import annotations

import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from bsstream.audio import decode, libsoxr, resample, wav
from bsstream.audio.decode import ffmpeg_exe, open_input
from bsstream.protocol.messages import BYTES_PER_SECOND

MIN_SNR_DB = 40.0

# (ffmpeg sample codec, rate, channels): the WAV layouts the in-process path takes, made from a
# real recording by ffmpeg
VARIANTS = [
    ("pcm_u8", 8000, 1),
    ("pcm_u8", 22050, 2),
    ("pcm_s16le", 16000, 2),
    ("pcm_s16le", 44100, 2),
    ("pcm_s16le", 48000, 1),
    ("pcm_s24le", 96000, 2),
    ("pcm_s24le", 11025, 1),
    ("pcm_s32le", 32000, 2),
    ("pcm_f32le", 24000, 2),
    ("pcm_f64le", 48000, 1),
]


def ffmpeg_soxr(path: Path) -> np.ndarray:
    """ffmpeg's own conversion of ``path`` to 16 kHz mono s16le, resampled by its soxr resampler."""
    out = subprocess.run(
        [ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-i", str(path),
         "-af", "aresample=resampler=soxr", "-ac", "1", "-ar", "16000", "-f", "s16le", "pipe:1"],
        capture_output=True, check=True, timeout=120,
    ).stdout  # fmt: skip
    return np.frombuffer(out, dtype="<i2").astype(np.float64)


def decoded(path: Path) -> tuple[str, np.ndarray]:
    with open_input(str(path)) as source:
        pcm = b"".join(source.blocks())
        return source.path, np.frombuffer(pcm, dtype="<i2").astype(np.float64)


def snr_db(reference: np.ndarray, got: np.ndarray) -> float:
    noise = reference - got
    return float(10 * np.log10(np.sum(reference**2) / max(np.sum(noise**2), 1e-9)))


def assert_matches_ffmpeg(path: Path) -> None:
    kind, got = decoded(path)
    assert kind == "soxr", path.name
    reference = ffmpeg_soxr(path)
    # the same length to within a sample (rounding of the last output sample)
    assert abs(len(got) - len(reference)) <= 2, (len(got), len(reference))
    n = min(len(got), len(reference))
    assert snr_db(reference[:n], got[:n]) > MIN_SNR_DB, path.name


def wav_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix == ".wav")


def test_every_test_recording_matches_ffmpeg(testdata: Path) -> None:
    """Every WAV of the test set either takes the in-process path and matches ffmpeg's soxr
    output, or is one the in-process path leaves alone (native 16 kHz mono, mu-law: ffmpeg)."""
    checked = 0
    for path in wav_files(testdata):
        with open(path, "rb") as f:
            head = f.read(12)
            header = wav.read_header(f.read, prefix=head, keep=False)
        if header.is_pcm16_16k_mono:
            assert decoded(path)[0] == "native"
        elif resample.handles(header):
            assert_matches_ffmpeg(path)
            checked += 1
        else:
            assert decoded(path)[0] == "ffmpeg", path.name
    assert checked >= 4  # 8, 22.05 and 48 kHz mono s16, 44.1 kHz stereo s16, 8 kHz stereo float


@pytest.mark.parametrize(
    ("codec", "rate", "channels"), VARIANTS, ids=[f"{c}-{r}-{n}ch" for c, r, n in VARIANTS]
)
def test_generated_variants_match_ffmpeg(
    testdata: Path, tmp_path: Path, codec: str, rate: int, channels: int
) -> None:
    source = testdata / "05_vctk_p286_011_48k_mono_s16.wav"
    path = tmp_path / f"{codec}-{rate}-{channels}.wav"
    # the second channel is the first, quieter and delayed: a downmix that drops or mixes wrongly shows
    pan = "-af" if channels == 2 else None
    subprocess.run(
        [ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-i", str(source), "-t", "3",
         *([pan, "pan=stereo|c0=c0|c1=0.5*c0,adelay=0|7"] if pan else ["-ac", "1"]),
         "-ar", str(rate), "-c:a", codec, "-y", str(path)],
        check=True, timeout=60,
    )  # fmt: skip
    assert_matches_ffmpeg(path)


def test_the_same_rate_only_downmixes(tmp_path: Path) -> None:
    """16 kHz stereo: no resampler; the mono is the mean of the channels, exactly."""
    frames = np.array([[1000, 3000], [-2, 0], [32767, 32767], [-32768, -32767]], dtype="<i2")
    path = tmp_path / "st.wav"
    import wave

    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(frames.tobytes())
    kind, got = decoded(path)
    assert kind == "soxr"
    assert got.tolist() == [2000.0, -1.0, 32767.0, -32768.0]  # -32767.5 rounds to even


def test_more_channels_stay_with_ffmpeg(testdata: Path, tmp_path: Path) -> None:
    path = tmp_path / "six.wav"
    subprocess.run(
        [ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-i",
         str(testdata / "05_vctk_p286_011_48k_mono_s16.wav"), "-t", "1", "-ac", "6", "-y", str(path)],
        check=True, timeout=60,
    )  # fmt: skip
    assert decoded(path)[0] == "ffmpeg"


def test_forced_ffmpeg_switch(testdata: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(decode, "IN_PROCESS_WAV", False)
    assert decoded(testdata / "12_tts_orca_en_female_22k_mono_s16.wav")[0] == "ffmpeg"


def long_wav(path: Path, seconds: int, rate: int = 48000) -> Path:
    """``seconds`` of a 48 kHz stereo 16-bit tone, written a second at a time."""
    import wave

    t = np.arange(rate) / rate
    second = (np.sin(2 * np.pi * 440 * t) * 8000).astype("<i2")
    block = np.stack([second, second // 2], axis=1).tobytes()
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        for _ in range(seconds):
            w.writeframes(block)
    return path


def test_memory_is_flat(tmp_path: Path) -> None:
    """60 s of 48 kHz stereo (11 MiB): what is allocated at once stays near one block."""
    path = long_wav(tmp_path / "long.wav", 60)
    tracemalloc.start()
    try:
        total = 0
        with open_input(str(path)) as source:
            assert source.path == "soxr"
            for block in source.blocks():
                assert len(block) <= decode.BLOCK_BYTES and len(block) % 2 == 0
                total += len(block)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert abs(total - 60 * BYTES_PER_SECOND) <= 4
    assert peak < 3 * 1024 * 1024, peak  # the file is 11 MiB; one block of input is 188 KiB


def test_first_block_after_one_read(tmp_path: Path) -> None:
    """The first block is out before the second second of the file has been read."""
    path = long_wav(tmp_path / "long.wav", 30)
    with open_input(str(path)) as source:
        blocks = source.blocks()
        first = next(blocks)
        assert len(first) > 0
        position = source._stream.tell()  # type: ignore[attr-defined]
        assert position <= 44 + 48000 * 4, position
        source.close()
        assert list(blocks) == []


# --- the two converters: libsoxr through ctypes (no numpy) and numpy + python-soxr -------------

# u8 stereo, s16 stereo, s32 stereo, float stereo, f64 mono
AGREE_VARIANTS = [VARIANTS[i] for i in (1, 3, 6, 7, 8)]


def _variant(testdata: Path, tmp_path: Path, codec: str, rate: int, channels: int) -> Path:
    path = tmp_path / f"{codec}-{rate}-{channels}.wav"
    subprocess.run(
        [ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-i",
         str(testdata / "05_vctk_p286_011_48k_mono_s16.wav"), "-t", "3",
         *(["-af", "pan=stereo|c0=c0|c1=0.5*c0,adelay=0|7"] if channels == 2 else ["-ac", "1"]),
         "-ar", str(rate), "-c:a", codec, "-y", str(path)],
        check=True, timeout=60,
    )  # fmt: skip
    return path


needs_libsoxr = pytest.mark.skipif(libsoxr.load() is None, reason="libsoxr's C API is not reachable here")


@needs_libsoxr
@pytest.mark.parametrize(
    ("codec", "rate", "channels"), AGREE_VARIANTS, ids=[f"{c}-{r}-{n}ch" for c, r, n in AGREE_VARIANTS]
)
def test_both_converters_agree_to_a_step(
    testdata: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, codec: str, rate: int, channels: int
) -> None:
    """The ctypes converter and the numpy one give the same samples to within one 16-bit step (the
    stereo mean is rounded down by audioop, to the nearest by numpy)."""
    path = _variant(testdata, tmp_path, codec, rate, channels)
    with open(path, "rb") as f:
        header = wav.read_header(f.read, prefix=f.read(12), keep=False)
    assert isinstance(resample.converter_for(header), resample.SoxrConverter)
    _, fast = decoded(path)
    monkeypatch.setattr(libsoxr, "load", lambda: None)
    assert isinstance(resample.converter_for(header), resample.Converter)
    _, slow = decoded(path)
    assert len(fast) == len(slow)
    assert np.max(np.abs(fast - slow)) <= 1
    assert abs(float(np.mean(fast - slow))) <= 0.3


@pytest.mark.parametrize(
    ("codec", "rate", "channels"), [VARIANTS[1], VARIANTS[7]], ids=["u8-stereo", "f32-stereo"]
)
def test_the_numpy_converter_still_matches_ffmpeg(
    testdata: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, codec: str, rate: int, channels: int
) -> None:
    """Where libsoxr's C API cannot be reached (Windows wheels), numpy and python-soxr do it."""
    monkeypatch.setattr(libsoxr, "load", lambda: None)
    assert_matches_ffmpeg(_variant(testdata, tmp_path, codec, rate, channels))


@needs_libsoxr
def test_a_wav_file_streams_without_numpy(tmp_path: Path) -> None:
    """A 44.1 kHz stereo WAV decoded in a fresh interpreter: resampled in-process, numpy never loaded."""
    path = long_wav(tmp_path / "st.wav", 2, rate=44100)
    done = subprocess.run(
        [sys.executable, "-c",
         "import sys\nfrom bsstream.audio.decode import open_input\n"
         f"with open_input({str(path)!r}) as s:\n    n = sum(len(b) for b in s.blocks())\n"
         "print(s.path, n, 'numpy' in sys.modules, 'soxr' in sys.modules)"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    kind, size, numpy_loaded, soxr_loaded = done.stdout.split()
    assert (kind, numpy_loaded, soxr_loaded) == ("soxr", "False", "False")
    assert abs(int(size) - 2 * BYTES_PER_SECOND) <= 4


@needs_libsoxr
def test_libsoxr_binding_refuses_what_libsoxr_refuses() -> None:
    lib = libsoxr.load()
    assert lib is not None
    with pytest.raises(libsoxr.SoxrError):
        libsoxr.Resampler(lib, -1.0, 16000.0, 1, libsoxr.INT16_I)
    resampler = libsoxr.Resampler(lib, 48000.0, 16000.0, 1, libsoxr.INT16_I)
    with pytest.raises(ValueError):
        resampler.process(b"\x00")  # half a sample
    out = resampler.process(bytes(9600)) + resampler.flush()  # 0.1 s of silence
    assert out == bytes(len(out)) and abs(len(out) - 3200) <= 4
    with pytest.raises(libsoxr.SoxrError):
        resampler.process(bytes(2))  # flushed: closed
