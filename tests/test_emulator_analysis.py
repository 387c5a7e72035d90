"""The emulator's analysis without any transport: VAD, segmentation, measurements, labels."""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bsstream.emulator import analysis
from tests.conftest import tone_pcm
from tests.test_emulator_support import load_wav, resample


def windows(pcm: bytes, rate: int = 16000, chunk: int = 8000) -> list[analysis.Window]:
    return list(analysis.analyze_all(pcm, rate, chunk))


def noise_pcm(seconds: float, amplitude: float, seed: int = 1) -> bytes:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(int(seconds * 16000)) * amplitude * 32767
    return np.clip(x, -32768, 32767).astype("<i2").tobytes()


@pytest.fixture(scope="module")
def jfk(testdata: Path) -> bytes:
    pcm, rate = load_wav(testdata / "01_jfk_16k_mono_s16.wav")
    assert rate == 16000
    return pcm


@pytest.mark.parametrize(
    "pcm",
    [
        pytest.param(bytes(16000 * 2 * 5), id="digital-zero"),
        pytest.param(noise_pcm(5, 0.001), id="quiet-white-noise"),
        pytest.param(noise_pcm(5, 0.3), id="loud-white-noise"),
        pytest.param(tone_pcm(5, freq=220.0), id="sine-220"),
        pytest.param(tone_pcm(5, freq=1000.0, amplitude=0.9), id="sine-1k-loud"),
    ],
)
def test_non_speech_gives_no_windows(pcm: bytes) -> None:
    assert windows(pcm) == []


def test_square_wave_is_dropped_as_steady() -> None:
    t = np.arange(16000 * 4) / 16000
    x = (0.3 * 32767 * np.sign(np.sin(2 * np.pi * 150 * t))).astype("<i2").tobytes()
    assert windows(x) == []


@pytest.mark.parametrize(
    "name",
    [
        "01_jfk_16k_mono_s16.wav",
        "05_vctk_p286_011_48k_mono_s16.wav",
        "g_vctk_p286_44k1_stereo_s16.wav",
        "12_tts_orca_en_female_22k_mono_s16.wav",
    ],
)
def test_speech_gives_segments_and_utterances(testdata: Path, name: str) -> None:
    pcm, rate = load_wav(testdata / name)
    found = windows(pcm, rate)
    kinds = {w.kind for w in found}
    assert kinds == {"segment", "utterance"}
    for w in found:
        assert 0 <= w.start < w.end <= len(pcm) / 2 / rate + 0.05


def test_segments_are_two_seconds_of_speech(jfk: bytes) -> None:
    segs = [w for w in windows(jfk) if w.kind == "segment"]
    utts = [w for w in windows(jfk) if w.kind == "utterance"]
    full = [w for w in segs if w.end - w.start >= 1.99]
    assert full, "JFK has utterances longer than 2 s"
    assert all(2.0 - 1e-9 <= w.end - w.start <= 2.5 for w in full)
    assert any(round(w.end - w.start, 2) == 2.00 for w in full)
    # every segment lies inside one utterance
    for s in segs:
        assert any(u.start - 1e-9 <= s.start and s.end <= u.end + 1e-9 for u in utts)
    assert [s.index for s in segs] == list(range(len(segs)))
    assert [u.index for u in utts] == list(range(len(utts)))


def test_utterances_split_at_the_digital_zero_gaps(testdata: Path) -> None:
    pcm, rate = load_wav(testdata / "g_dialogue_16k_mono_s16_zero_gaps.wav")
    # the 0.70 s runs of exact zeros between the six turns (tests/data/SOURCES.md)
    gaps = [(2.96, 3.66), (5.91, 6.61), (8.95, 9.65), (11.89, 12.59), (16.40, 17.10)]
    x = np.frombuffer(pcm, dtype="<i2")
    for a, b in gaps:
        assert not x[round((a + 0.01) * rate) : round((b - 0.01) * rate)].any(), (a, b)
    utts = [w for w in windows(pcm, rate) if w.kind == "utterance"]
    assert len(utts) >= len(gaps) + 1
    for a, b in gaps:
        assert not any(u.start < b - 0.05 and u.end > a + 0.05 for u in utts), (a, b)
        assert any(u.end <= a + 0.05 for u in utts) and any(u.start >= b - 0.05 for u in utts)


def test_ten_has_its_documented_pauses(testdata: Path) -> None:
    """SOURCES.md: 13 natural pauses of >= 0.5 s in file 10, so about 14 utterances."""
    pcm, rate = load_wav(testdata / "10_voxconverse_aepyx_8k_mono_s16_169s.wav")
    utts = [w for w in windows(pcm, rate) if w.kind == "utterance"]
    assert 10 <= len(utts) <= 18


def test_chunking_does_not_change_windows(jfk: bytes) -> None:
    reference = windows(jfk, chunk=8000)
    for chunk in (1, 7, 3333, 32001):
        if chunk == 1:
            got = windows(jfk[:64000], chunk=1)
            assert got == windows(jfk[:64000], chunk=8000)
        else:
            assert windows(jfk, chunk=chunk) == reference


def test_resampled_input_finds_the_same_utterances(jfk: bytes) -> None:
    ref = [w for w in windows(jfk) if w.kind == "utterance"]
    for rate in (8000, 44100, 48000):
        got = [w for w in windows(resample(jfk, 16000, rate), rate) if w.kind == "utterance"]
        assert len(got) == len(ref)
        for a, b in zip(got, ref, strict=True):
            assert abs(a.start - b.start) <= 0.1 and abs(a.end - b.end) <= 0.15


def test_pcm_decoder_carries_the_odd_byte() -> None:
    dec = analysis.PcmDecoder()
    data = np.array([1000, -2000, 3000], dtype="<i2").tobytes()
    parts = [dec.feed(data[:1]), dec.feed(data[1:4]), dec.feed(data[4:5]), dec.feed(data[5:])]
    joined = np.concatenate(parts) * 32768
    assert joined.tolist() == [1000, -2000, 3000]


def test_resampler_is_chunk_independent() -> None:
    x = np.sin(np.arange(44100) / 7.0)
    whole = analysis.Resampler(44100).process(x)
    r = analysis.Resampler(44100)
    parts = np.concatenate([r.process(x[i : i + 1234]) for i in range(0, len(x), 1234)])
    assert len(whole) == len(parts)
    assert np.allclose(whole, parts)
    assert abs(len(whole) - 16000) <= 2


def test_pitch_of_a_known_tone() -> None:
    t = np.arange(640) / 16000
    harmonic = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 6))
    feats = analysis.frame_features(0.3 * harmonic[None, :])
    assert feats.f0[0] == pytest.approx(150, rel=0.02)


def test_zero_run_detector_spans_chunks() -> None:
    det = analysis.ZeroRunDetector(16000, 0.05)
    det.feed(np.ones(100))
    det.feed(np.zeros(500))
    assert det.found_at is None
    det.feed(np.zeros(400))
    assert det.found_at == pytest.approx((100 + 800) / 16000)


def labels_of(outputs: list[analysis.TaskOutput]) -> dict[str, str]:
    return {o.task: o.final_label for o in outputs}


def verdicts(testdata: Path, name: str) -> set[str]:
    pcm, rate = load_wav(testdata / name)
    return {analysis.deepfake(w.measures)[0].final_label for w in windows(pcm, rate)}


def test_known_tts_comes_out_spoofed(testdata: Path) -> None:
    assert verdicts(testdata, "12_tts_orca_en_female_22k_mono_s16.wav") == {"spoofed"}


@pytest.mark.parametrize(
    "name",
    [
        "01_jfk_16k_mono_s16.wav",
        "g_vctk_p286_44k1_stereo_s16.wav",
        "05_vctk_p286_011_48k_mono_s16.wav",
        "10_voxconverse_aepyx_8k_mono_s16_169s.wav",
    ],
)
def test_real_recordings_come_out_bonafide(testdata: Path, name: str) -> None:
    assert verdicts(testdata, name) == {"bonafide"}


def test_digital_silence_is_not_evidence_of_synthesis(jfk: bytes) -> None:
    """An edit (1 s of exact zeros spliced in) changes no verdict: edits, VoIP and muted
    microphones make digital silence too."""
    spliced = jfk[: 16000 * 2 * 3] + bytes(16000 * 2) + jfk[16000 * 2 * 3 :]
    found = windows(spliced)
    before = [w for w in found if w.end <= 3.0]
    after = [w for w in found if w.start >= 4.0]
    assert before and after
    assert all(w.measures.digital_silence for w in after)  # measured, and not counted
    assert {analysis.deepfake(w.measures)[0].final_label for w in found} == {"bonafide"}


@pytest.mark.parametrize(
    ("name", "gender"),
    [
        ("05_vctk_p286_011_48k_mono_s16.wav", "male"),
        ("g_vctk_p286_44k1_stereo_s16.wav", "male"),
        ("12_tts_orca_en_female_22k_mono_s16.wav", "female"),
    ],
)
def test_gender_follows_median_pitch(testdata: Path, name: str, gender: str) -> None:
    pcm, rate = load_wav(testdata / name)
    utts = [w for w in windows(pcm, rate) if w.kind == "utterance"]
    assert {labels_of(analysis.behavioral(w.measures))["gender"] for w in utts} == {gender}


def test_gender_alternates_with_the_dialogue_turns(testdata: Path) -> None:
    """The dialogue's turns are p286 (male), Orca (female), Common Voice (male), Orca, p286, Orca."""
    pcm, rate = load_wav(testdata / "g_dialogue_16k_mono_s16_zero_gaps.wav")
    utts = [w for w in windows(pcm, rate) if w.kind == "utterance"]
    assert [labels_of(analysis.behavioral(w.measures))["gender"] for w in utts] == ["male", "female"] * 3


def test_strength_follows_loudness(jfk: bytes) -> None:
    quiet = (np.frombuffer(jfk, dtype="<i2") * 0.05).astype("<i2").tobytes()
    loud = [labels_of(analysis.behavioral(w.measures))["strength"] for w in windows(jfk)]
    soft = [labels_of(analysis.behavioral(w.measures))["strength"] for w in windows(quiet)]
    assert "weak" not in loud
    assert soft and set(soft) == {"weak"}


def test_every_task_and_label_set(jfk: bytes) -> None:
    w = windows(jfk)[0]
    outputs = analysis.behavioral(w.measures, embedding=True)
    expected = {
        "gender": {"male", "female"},
        "age": {"18 - 22", "23 - 30", "31 - 45", "46 - 65"},
        "emotion": {"happy", "angry", "neutral", "sad"},
        "strength": {"weak", "neutral", "strong"},
        "positivity": {"negative", "neutral", "positive"},
        "speaking_rate": {"slow", "normal", "fast"},
        "hesitation": {"no", "yes"},
        "engagement": {"engaged", "neutral", "disengaged"},
        "politeness": {"rude", "neutral", "polite"},
        "language": {"en", "es", "fr", "de", "it", "pt", "el"},
    }
    by_task = {o.task: o for o in outputs}
    assert set(by_task) == set(expected) | {"features"}
    for task, labels in expected.items():
        out = by_task[task]
        assert set(out.labels) == labels
        assert out.final_label == out.labels[0]
        assert list(out.posteriors) == sorted(out.posteriors, reverse=True)
        assert math.isclose(sum(out.posteriors), 1.0)
    assert by_task["features"].labels == () and by_task["features"].final_label == ""
    assert by_task["features"].embedding is not None
    assert len(by_task["features"].embedding) == analysis.EMBEDDING_SIZE == 728  # the vendor SDK's size


@given(st.lists(st.floats(min_value=0, max_value=1), min_size=2, max_size=6).filter(lambda p: sum(p) > 1e-6))
def test_formatted_posteriors_sum_to_one(raw: list[float]) -> None:
    total = sum(raw)
    texts = analysis.format_posteriors([p / total for p in raw])
    assert sum(Decimal(t) for t in texts) == Decimal(1)
    assert all(len(t.split(".")[1]) == 4 for t in texts)


@given(st.floats(min_value=-50, max_value=50))
def test_ordinal_posteriors_are_a_distribution(x: float) -> None:
    probs = analysis.ordinal(x, (-1.0, 0.0, 2.0), 0.5)
    assert len(probs) == 4
    assert all(p >= 0 for p in probs)
    assert math.isclose(sum(probs), 1.0, abs_tol=1e-9)


def test_ordinal_moves_with_the_value() -> None:
    assert np.argmax(analysis.ordinal(-5, (-1.0, 1.0), 0.3)) == 0
    assert np.argmax(analysis.ordinal(0, (-1.0, 1.0), 0.3)) == 1
    assert np.argmax(analysis.ordinal(5, (-1.0, 1.0), 0.3)) == 2


def test_format_helpers() -> None:
    assert analysis.format_time(2) == "2.00"
    assert analysis.format_time(12.345) == "12.35" or analysis.format_time(12.345) == "12.34"
    assert analysis.format_embedding([0.12, -0.5]) == "[0.1200, -0.5000]"
    assert float(analysis.format_logit(0.5)) == pytest.approx(math.log(0.5), abs=1e-4)
    assert analysis.format_logit(0.0) == f"{math.log(1e-6):.4f}"
