"""The test audio itself: the shipped recordings are the documented bytes, and the generated
variants (tests/datagen.py) have the formats, channels and gaps tests/data/SOURCES.md claims."""

from __future__ import annotations

import hashlib
import re
import struct
import wave
from pathlib import Path

import numpy as np
import pytest

from bsstream.emulator import analysis
from tests import datagen

ROOT = Path(__file__).resolve().parent.parent


def riff_chunks(path: Path) -> dict[bytes, bytes]:
    raw = path.read_bytes()
    assert raw[:4] == b"RIFF" and raw[8:12] == b"WAVE"
    chunks, pos = {}, 12
    while pos + 8 <= len(raw):
        cid, size = raw[pos : pos + 4], struct.unpack("<I", raw[pos + 4 : pos + 8])[0]
        chunks[cid] = raw[pos + 8 : pos + 8 + size]
        pos += 8 + size + (size & 1)
    return chunks


def test_shipped_recordings_are_in_the_repository_with_the_documented_hashes() -> None:
    assert datagen.SHIPPED_DIR == ROOT / "tests" / "data"
    sources = (datagen.SHIPPED_DIR / "SOURCES.md").read_text()
    hashes = re.findall(r"^([0-9a-f]{64})  (\S+)$", sources, re.M)
    documented = {name: digest for digest, name in hashes}
    assert sorted(documented) == sorted(datagen.SHIPPED)
    on_disk = sorted(p.name for p in datagen.SHIPPED_DIR.iterdir() if p.name != "SOURCES.md")
    assert on_disk == sorted(datagen.SHIPPED)
    for name, digest in documented.items():
        assert hashlib.sha256((datagen.SHIPPED_DIR / name).read_bytes()).hexdigest() == digest, name


def test_the_fixture_holds_the_shipped_and_the_generated_files(testdata: Path) -> None:
    assert sorted(p.name for p in testdata.iterdir()) == sorted(datagen.SHIPPED + datagen.GENERATED)
    for name in datagen.SHIPPED:
        assert (testdata / name).read_bytes() == (datagen.SHIPPED_DIR / name).read_bytes()


def test_generation_is_deterministic(testdata: Path, tmp_path: Path) -> None:
    again = datagen.build(testdata, tmp_path / "again")
    for name in datagen.GENERATED:
        assert (again / name).read_bytes() == (testdata / name).read_bytes(), name


def test_a_missing_encoder_is_one_clear_error() -> None:
    with pytest.raises(datagen.TestDataError, match=r"no libopus or opus encoder.*Ogg Opus"):
        datagen.pick_encoder("/x/ffmpeg", {"flac", "aac"}, "Ogg Opus")
    assert datagen.pick_encoder("/x/ffmpeg", {"opus"}, "Ogg Opus") == "opus"


def test_missing_recordings_are_named(tmp_path: Path) -> None:
    with pytest.raises(datagen.TestDataError, match=r"01_jfk_16k_mono_s16\.wav"):
        datagen.build(tmp_path, tmp_path / "out")


def test_two_speakers_float_and_mulaw_headers(testdata: Path) -> None:
    for name, tag, width in ((datagen.TWO_SPEAKERS_FLOAT, 3, 32), (datagen.TWO_SPEAKERS_MULAW, 7, 8)):
        chunks = riff_chunks(testdata / name)
        fmt_tag, channels, rate = struct.unpack("<HHI", chunks[b"fmt "][:8])
        bits = struct.unpack("<H", chunks[b"fmt "][14:16])[0]
        assert (fmt_tag, channels, rate, bits) == (tag, 2, 8000, width), name
        frames = struct.unpack("<I", chunks[b"fact"])[0]
        assert frames == 18762 == len(chunks[b"data"]) // (channels * width // 8), name
        with pytest.raises(wave.Error), wave.open(str(testdata / name)):
            pass


def test_two_speakers_have_a_different_voice_per_channel(testdata: Path) -> None:
    data = riff_chunks(testdata / datagen.TWO_SPEAKERS_FLOAT)[b"data"]
    stereo = np.frombuffer(data, dtype="<f4").reshape(-1, 2)
    assert abs(np.corrcoef(stereo[:, 0], stereo[:, 1])[0, 1]) < 0.2
    genders = []
    for ch in range(2):
        pcm = np.round(stereo[:, ch] * 32767).astype("<i2").tobytes()
        utts = [w for w in analysis.analyze_all(pcm, 8000, 4000) if w.kind == "utterance"]
        labels = [o for w in utts for o in analysis.behavioral(w.measures) if o.task == "gender"]
        genders.append({o.final_label for o in labels})
    assert genders == [{"male"}, {"female"}]


def test_44k1_stereo_has_identical_channels(testdata: Path) -> None:
    with wave.open(str(testdata / datagen.P286_44K1_STEREO)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (2, 2, 44100)
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, 2)
    assert np.array_equal(x[:, 0], x[:, 1]) and np.abs(x).max() > 1000


def test_compressed_variants_headers(testdata: Path) -> None:
    flac = (testdata / datagen.JFK_FLAC).read_bytes()
    assert flac[:4] == b"fLaC"
    info = int.from_bytes(flac[18:26], "big")  # STREAMINFO: rate 20 bits, channels-1 3, bits-1 5, samples 36
    rate, channels, bits = info >> 44, ((info >> 41) & 7) + 1, ((info >> 36) & 31) + 1
    assert (rate, channels, bits, info & (2**36 - 1)) == (44100, 2, 24, 485100)
    m4a = (testdata / datagen.JFK_M4A).read_bytes()
    assert m4a[4:12] == b"ftypM4A " and b"mp4a" in m4a
    opus = (testdata / datagen.P286_OPUS).read_bytes()
    head = opus.index(b"OpusHead")
    channels, _, rate = struct.unpack("<BHI", opus[head + 9 : head + 16])
    assert opus[:4] == b"OggS" and (channels, rate) == (1, 16000)


def test_dialogue_gaps_are_exact_zeros_where_documented(testdata: Path) -> None:
    with wave.open(str(testdata / datagen.DIALOGUE)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()) == (1, 2, 16000, 320783)
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    zero = np.concatenate([[0], (x == 0).astype(np.int8), [0]])
    starts, ends = np.flatnonzero(np.diff(zero) == 1), np.flatnonzero(np.diff(zero) == -1)
    long_runs = [(a, b) for a, b in zip(starts, ends, strict=True) if b - a >= 800]
    runs = [(round(a / 16000, 2), round(b / 16000, 2)) for a, b in long_runs]
    assert runs == [(2.96, 3.66), (5.91, 6.61), (8.95, 9.65), (11.89, 12.59), (16.4, 17.1), (19.35, 20.05)]
    assert all(b - a == datagen.GAP_SAMPLES for a, b in long_runs)
