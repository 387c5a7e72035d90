"""The emulator's ears: streaming VAD segmentation and acoustic measurements -> labels.

No grpc and no protobuf here. Audio goes in as PCM16 bytes in any chunking; windows
(segments of 2 s of speech, utterances ended by a 0.5 s pause) come out with measurements,
and the label functions turn measurements into soft posteriors. Everything is a documented
heuristic (see the README, "The local emulator"), deterministic, and independent of how the
bytes were chunked.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt
import webrtcvad

FloatArray = npt.NDArray[np.float64]

RATE = 16000
FRAME = 320  # 20 ms: the VAD and measurement hop
WINDOW = 640  # 40 ms analysis window ending at the frame's end (pitch, spectrum)
NFFT = 1024
FRAME_SECONDS = FRAME / RATE

# Voice-activity gates (all must pass for a frame to count as speech).
VAD_AGGRESSIVENESS = 2
ENERGY_FLOOR_DB = -55.0  # dBFS of the 20 ms frame: exact zero and quiet noise are not speech
FLATNESS_MAX = 0.40  # spectral flatness 250-4000 Hz above this: noise-like (white noise)
TONALITY_MAX = 0.97  # share of energy within +-3 FFT bins of the peak above this: a tone

# Segmentation.
SEGMENT_FRAMES = 100  # 2.00 s
PAUSE_FRAMES = 25  # 0.50 s of non-speech ends an utterance
MIN_UTTERANCE_SPEECH_FRAMES = 10  # 0.20 s of speech frames, or the utterance is a click
MIN_TAIL_SEGMENT_FRAMES = 25  # a last, partial segment of an utterance is sent if >= 0.50 s
MAX_UTTERANCE_FRAMES = 3000  # 60 s: a longer run of speech without a pause is closed there (bounds memory)
# Memory bound: audio is analysed in steps of at most this many seconds (at the declared input
# rate), so the working set per stream does not grow with the message size or a low declared rate.
MAX_STEP_SECONDS = 1.0
# A window whose pitch and loudness hardly move (a steady buzz, a square wave) is not speech.
STEADY_F0_STD_ST = 0.2
STEADY_ENERGY_STD_DB = 1.0

# Pitch.
F0_MIN, F0_MAX = 60.0, 400.0
VOICING_MIN = 0.45  # normalised autocorrelation peak for a frame to count as voiced
CLEAN_PERIODICITY = 0.90  # voiced frames this periodic are 'clean' (pitch roughness uses only these)

SEGMENT = "segment"
UTTERANCE = "utterance"


# --------------------------------------------------------------------------- PCM in


class PcmDecoder:
    """Bytes in any chunking -> float samples in [-1, 1); an odd trailing byte is carried."""

    def __init__(self) -> None:
        self._carry = b""

    def feed(self, data: bytes) -> FloatArray:
        if self._carry:
            data = self._carry + data
            self._carry = b""
        if len(data) % 2:
            self._carry = data[-1:]
            data = data[:-1]
        return np.frombuffer(data, dtype="<i2").astype(np.float64) / 32768.0


def _lowpass_taps(in_rate: int, cutoff: float, n: int = 63) -> FloatArray:
    m = np.arange(n) - (n - 1) / 2
    fc = cutoff / in_rate
    taps = 2 * fc * np.sinc(2 * fc * m) * np.hamming(n)
    return np.asarray(taps / taps.sum(), dtype=np.float64)


class Resampler:
    """Streaming resampler to 16 kHz: anti-alias FIR when downsampling, then linear interpolation.

    Output sample k sits at input position k * in_rate / out_rate, computed in integers, so
    the output does not depend on how the input was chunked.
    """

    def __init__(self, in_rate: int, out_rate: int = RATE) -> None:
        g = math.gcd(in_rate, out_rate)
        self.identity = in_rate == out_rate
        self._up = out_rate // g
        self._down = in_rate // g
        self._taps = _lowpass_taps(in_rate, 0.45 * out_rate) if in_rate > out_rate else None
        self._hist: FloatArray = np.zeros(0 if self._taps is None else len(self._taps) - 1)
        self._buf: FloatArray = np.zeros(0)
        self._buf_start = 0  # absolute input index of _buf[0]
        self._k = 0  # next output index

    def process(self, x: FloatArray) -> FloatArray:
        if self.identity or not len(x):
            return x
        if self._taps is not None:
            joined = np.concatenate([self._hist, x])
            filtered = np.convolve(joined, self._taps, mode="valid")
            self._hist = joined[len(joined) - (len(self._taps) - 1) :]
            x = filtered
        self._buf = np.concatenate([self._buf, x])
        last = self._buf_start + len(self._buf) - 1  # absolute index of the newest sample
        k_max = (last * self._up - 1) // self._down  # idx + 1 <= last
        if k_max < self._k:
            return np.zeros(0)
        ks = np.arange(self._k, k_max + 1, dtype=np.int64)
        num = ks * self._down
        idx = num // self._up - self._buf_start
        frac = (num % self._up) / self._up
        out = self._buf[idx] * (1.0 - frac) + self._buf[idx + 1] * frac
        self._k = k_max + 1
        keep_from = min((self._k * self._down) // self._up, last + 1)
        self._buf = self._buf[keep_from - self._buf_start :]
        self._buf_start = keep_from
        return np.asarray(out, dtype=np.float64)


class ZeroRunDetector:
    """Finds the first run of >= ``min_seconds`` of exact-zero input samples (digital silence).

    Works on the samples as sent (before resampling), across chunk boundaries.
    """

    def __init__(self, sample_rate: int, min_seconds: float = 0.05) -> None:
        self._rate = sample_rate
        self._need = max(1, round(min_seconds * sample_rate))
        self._run = 0  # zeros at the end of what was seen so far
        self._seen = 0  # samples seen
        self.found_at: float | None = None  # stream time (s) at which the run reached the length

    def feed(self, x: FloatArray) -> None:
        if self.found_at is not None or not len(x):
            self._seen += len(x)
            return
        zero = np.concatenate([[False], x == 0.0, [False]])
        edges = np.flatnonzero(np.diff(zero.astype(np.int8)))
        starts, ends = edges[::2], edges[1::2]
        lengths = ends - starts
        if len(starts) and starts[0] == 0:
            lengths[0] += self._run
        hit = np.flatnonzero(lengths >= self._need)
        if len(hit):
            i = hit[0]
            lead = self._run if starts[i] == 0 else 0
            self.found_at = (self._seen + starts[i] + self._need - lead) / self._rate
        if len(ends) and ends[-1] == len(x):
            self._run = int(lengths[-1])
        else:
            self._run = 0
        self._seen += len(x)


# --------------------------------------------------------------------------- frame features


def _hann_autocorr() -> FloatArray:
    w = np.hanning(WINDOW)
    spec = np.fft.rfft(w, NFFT)
    r = np.fft.irfft(np.abs(spec) ** 2, NFFT)
    return np.asarray(r / r[0], dtype=np.float64)


_HANN = np.hanning(WINDOW)
_HANN_R = _hann_autocorr()
_LAG_MIN = int(RATE / F0_MAX)
_LAG_MAX = math.ceil(RATE / F0_MIN)
_BAND = slice(int(250 * NFFT / RATE), int(4000 * NFFT / RATE))


@dataclass(frozen=True)
class FrameBatch:
    """Per-frame measurements of consecutive 20 ms frames."""

    rms_db: FloatArray  # loudness of the 20 ms frame, dBFS
    f0: FloatArray  # Hz, 0 where unvoiced
    periodicity: FloatArray  # normalised autocorrelation at the pitch lag (0..1)
    flatness: FloatArray  # spectral flatness 250-4000 Hz (1 = white noise)
    tonality: FloatArray  # share of energy near the strongest spectral peak (1 = pure tone)


def frame_features(windows: FloatArray) -> FrameBatch:
    """Measure a (n, 640) matrix of 40 ms windows; each frame is the last 320 samples."""
    current = windows[:, WINDOW - FRAME :]
    rms_db = 10.0 * np.log10(np.mean(current**2, axis=1) + 1e-12)
    x = windows - windows.mean(axis=1, keepdims=True)
    spec = np.fft.rfft(x * _HANN, NFFT, axis=1)
    power = spec.real**2 + spec.imag**2
    band = power[:, _BAND] + 1e-12
    flatness = np.exp(np.mean(np.log(band), axis=1)) / np.mean(band, axis=1)
    total = power[:, 1:].sum(axis=1) + 1e-12
    cs = np.cumsum(power, axis=1)
    near_peak = cs[:, 7:] - cs[:, :-7]  # 7-bin sums: +-47 Hz, the Hann main lobe
    tonality = near_peak.max(axis=1) / total
    f0, periodicity = _pitch(power)
    return FrameBatch(rms_db, f0, periodicity, flatness, tonality)


def _pitch(power: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Autocorrelation pitch (Boersma-style window correction), first strong peak, parabolic refinement."""
    r = np.fft.irfft(power, NFFT, axis=1)[:, : _LAG_MAX + 2]
    r0 = r[:, :1]
    nac = np.where(r0 > 1e-10, r / np.maximum(r0, 1e-10), 0.0) / _HANN_R[: _LAG_MAX + 2]
    seg = nac[:, _LAG_MIN - 1 : _LAG_MAX + 2]
    mid = seg[:, 1:-1]
    is_peak = (mid > seg[:, :-2]) & (mid >= seg[:, 2:])
    best = np.where(is_peak, mid, -1.0).max(axis=1)
    strong = is_peak & (mid >= 0.85 * best[:, None]) & (best[:, None] > 0)
    first = np.argmax(strong, axis=1)
    rows = np.arange(len(seg))
    y0, y1, y2 = seg[rows, first], seg[rows, first + 1], seg[rows, first + 2]
    denom = y0 - 2 * y1 + y2
    shift = np.where(np.abs(denom) > 1e-12, 0.5 * (y0 - y2) / np.where(denom == 0, 1, denom), 0.0)
    lag = _LAG_MIN + first + np.clip(shift, -0.5, 0.5)
    peak = np.clip(y1, 0.0, 1.0)
    voiced = strong.any(axis=1) & (peak >= VOICING_MIN)
    f0 = np.where(voiced, RATE / lag, 0.0)
    return f0, np.where(voiced, peak, 0.0)


# --------------------------------------------------------------------------- windows


@dataclass(frozen=True)
class Measures:
    """What the labels are computed from, for one window."""

    duration: float  # seconds, start to end
    speech_seconds: float
    voiced_fraction: float  # of speech frames
    f0_median: float  # Hz; nan when nothing was voiced
    f0_std_st: float  # pitch variation, semitones
    jitter_st: float  # median |change| of pitch between consecutive voiced frames, semitones
    roughness_st: float  # median |2nd difference| of pitch over clean voiced frames, semitones
    loudness_db: float  # mean power of speech frames, dBFS
    energy_std_db: float  # loudness variation of speech frames, dB
    energy_delta_db: float  # median |change| of loudness between consecutive speech frames, dB
    periodicity: float  # median autocorrelation peak of voiced frames
    syllable_rate: float  # energy peaks per second of speech
    pause_ratio: float  # share of non-speech frames inside the window
    clean_triplets: int = 0  # runs of three clean voiced frames behind roughness_st
    digital_silence: bool = False  # the stream so far held >= 50 ms of exact-zero samples


@dataclass(frozen=True)
class Window:
    """One result window: a 2 s segment or a whole utterance."""

    kind: str  # SEGMENT or UTTERANCE
    index: int
    start: float
    end: float
    measures: Measures


def _syllable_peaks(db: FloatArray, speech: npt.NDArray[np.bool_], voiced: npt.NDArray[np.bool_]) -> int:
    """Syllable nuclei: voiced local maxima of the smoothed loudness, 3 dB above the dips around them."""
    if len(db) < 3:
        return 0
    smooth = np.convolve(np.pad(db, 1, mode="edge"), np.ones(3) / 3, mode="valid")
    padded = np.pad(smooth, 5, mode="edge")
    n = len(smooth)
    neigh = np.stack([padded[i : i + n] for i in range(11)])
    local_max = smooth >= neigh.max(axis=0)
    left_min = neigh[:5].min(axis=0)
    right_min = neigh[6:].min(axis=0)
    prominent = (smooth - np.maximum(left_min, right_min)) >= 3.0
    loud_enough = smooth >= smooth.max() - 25.0
    peaks = local_max & prominent & loud_enough & voiced & speech
    # plateaus: count only the first frame of equal neighbours
    peaks[1:] &= ~(peaks[:-1] & (smooth[1:] == smooth[:-1]))
    return int(peaks.sum())


def _roughness(f0: FloatArray, clean: npt.NDArray[np.bool_]) -> tuple[float, int]:
    """Median |f0[i-1] - 2 f0[i] + f0[i+1]| in semitones over runs of three clean voiced frames.

    The second difference ignores intonation (slopes) and keeps frame-to-frame wobble.
    """
    if len(f0) < 3:
        return 0.0, 0
    three = clean[2:] & clean[1:-1] & clean[:-2]
    if not three.any():
        return 0.0, 0
    st = 12.0 * np.log2(np.where(f0 > 0, f0, 1.0))
    d2 = np.abs(st[2:] - 2.0 * st[1:-1] + st[:-2])[three]
    d2 = d2[d2 < 6.0]  # octave jumps are tracking errors
    return (float(np.median(d2)), len(d2)) if len(d2) else (0.0, 0)


def measure(db: FloatArray, f0: FloatArray, per: FloatArray, speech: npt.NDArray[np.bool_]) -> Measures:
    """Measurements of one window from its per-frame rows (a slice of the stream)."""
    n = len(db)
    voiced = (f0 > 0) & speech
    n_speech = int(speech.sum())
    f0v = f0[voiced]
    if len(f0v):
        st = 12.0 * np.log2(f0v / np.median(f0v))
        f0_median = float(np.median(f0v))
        f0_std = float(np.std(st))
        both = voiced[1:] & voiced[:-1]
        steps = np.abs(12.0 * np.log2(f0[1:][both] / f0[:-1][both])) if both.any() else np.zeros(0)
        # octave jumps are tracking errors, not jitter
        steps = steps[steps < 6.0]
        jitter = float(np.median(steps)) if len(steps) else 0.0
        roughness, triplets = _roughness(f0, voiced & (per >= CLEAN_PERIODICITY))
        periodicity = float(np.median(per[voiced]))
    else:
        f0_median, f0_std, jitter, roughness, periodicity = float("nan"), 0.0, 0.0, 0.0, 0.0
        triplets = 0
    sdb = db[speech]
    if n_speech:
        loud = float(10.0 * np.log10(np.mean(10.0 ** (sdb / 10.0)) + 1e-12))
        estd = float(np.std(sdb))
        both_s = speech[1:] & speech[:-1]
        deltas = np.abs(np.diff(db))[both_s]
        edelta = float(np.median(deltas)) if len(deltas) else 0.0
    else:
        loud, estd, edelta = -120.0, 0.0, 0.0
    speech_seconds = n_speech * FRAME_SECONDS
    peaks = _syllable_peaks(db, speech, f0 > 0)
    return Measures(
        duration=n * FRAME_SECONDS,
        speech_seconds=speech_seconds,
        voiced_fraction=len(f0v) / n_speech if n_speech else 0.0,
        f0_median=f0_median,
        f0_std_st=f0_std,
        jitter_st=jitter,
        roughness_st=roughness,
        clean_triplets=triplets,
        loudness_db=loud,
        energy_std_db=estd,
        energy_delta_db=edelta,
        periodicity=periodicity,
        syllable_rate=peaks / speech_seconds if speech_seconds else 0.0,
        pause_ratio=1.0 - n_speech / n if n else 0.0,
    )


def is_steady(m: Measures) -> bool:
    """Almost constant pitch and loudness: a machine tone, not a voice (such windows are dropped)."""
    steady_pitch = m.f0_std_st < STEADY_F0_STD_ST
    return m.voiced_fraction > 0.9 and steady_pitch and m.energy_std_db < STEADY_ENERGY_STD_DB


@dataclass
class _Rows:
    """Per-frame rows of the open utterance (frame numbers from ``base``)."""

    base: int = 0
    db: list[float] = field(default_factory=list)
    f0: list[float] = field(default_factory=list)
    per: list[float] = field(default_factory=list)
    speech: list[bool] = field(default_factory=list)

    def reset(self, base: int) -> None:
        self.base = base
        self.db.clear()
        self.f0.clear()
        self.per.clear()
        self.speech.clear()

    def measure(self, start: int, end: int) -> Measures:
        a, b = start - self.base, end - self.base
        return measure(
            np.asarray(self.db[a:b]),
            np.asarray(self.f0[a:b]),
            np.asarray(self.per[a:b]),
            np.asarray(self.speech[a:b], dtype=bool),
        )


class Segmenter:
    """Frame-by-frame state machine: speech flags in, closed windows out.

    An utterance starts at the first speech frame and ends at its last speech frame once
    0.5 s of non-speech follows (or the stream ends). A segment closes on the speech frame
    that makes it 2.00 s long; the rest of an utterance (>= 0.5 s) is sent as a shorter segment.
    """

    def __init__(self, *, segments: bool, utterances: bool) -> None:
        self.segments = segments
        self.utterances = utterances
        self._rows = _Rows()
        self._in_utt = False
        self._utt_start = 0
        self._last_speech = 0
        self._speech_frames = 0
        self._silence = 0
        self._seg_start: int | None = None
        self._seg_index = 0
        self._utt_index = 0

    def push(self, frame_no: int, speech: bool, db: float, f0: float, per: float) -> list[Window]:
        if not self._in_utt:
            if not speech:
                return []
            self._in_utt = True
            self._utt_start = frame_no
            self._seg_start = frame_no
            self._speech_frames = 0
            self._rows.reset(frame_no)
        rows = self._rows
        rows.db.append(db)
        rows.f0.append(f0)
        rows.per.append(per)
        rows.speech.append(speech)
        out: list[Window] = []
        if speech:
            self._last_speech = frame_no
            self._silence = 0
            self._speech_frames += 1
            if self._seg_start is None:
                self._seg_start = frame_no
            if frame_no + 1 - self._seg_start >= SEGMENT_FRAMES:
                out.extend(self._segment(self._seg_start, frame_no + 1))
                self._seg_start = None
        else:
            self._silence += 1
            if self._silence >= PAUSE_FRAMES:
                out.extend(self._close())
        if self._in_utt and frame_no + 1 - self._utt_start >= MAX_UTTERANCE_FRAMES:
            out.extend(self._close())  # the longest utterance: its rows are all the state kept
        return out

    def finish(self) -> list[Window]:
        return self._close() if self._in_utt else []

    def _segment(self, start: int, end: int) -> list[Window]:
        if not self.segments:
            return []
        measures = self._rows.measure(start, end)
        if is_steady(measures):
            return []
        window = Window(SEGMENT, self._seg_index, start * FRAME_SECONDS, end * FRAME_SECONDS, measures)
        self._seg_index += 1
        return [window]

    def _close(self) -> list[Window]:
        out: list[Window] = []
        self._in_utt = False
        end = self._last_speech + 1
        real = self._speech_frames >= MIN_UTTERANCE_SPEECH_FRAMES
        if real and self._seg_start is not None and end - self._seg_start >= MIN_TAIL_SEGMENT_FRAMES:
            out.extend(self._segment(self._seg_start, end))
        self._seg_start = None
        if real and self.utterances:
            measures = self._rows.measure(self._utt_start, end)
            if not is_steady(measures):
                start = self._utt_start * FRAME_SECONDS
                out.append(Window(UTTERANCE, self._utt_index, start, end * FRAME_SECONDS, measures))
                self._utt_index += 1
        self._rows.reset(end)
        return out


class StreamAnalyzer:
    """PCM16 mono bytes at ``sample_rate`` in, closed windows out, as soon as they close."""

    def __init__(self, sample_rate: int, *, segments: bool = True, utterances: bool = True) -> None:
        self._decoder = PcmDecoder()
        self._zeros = ZeroRunDetector(sample_rate)
        self._resampler = Resampler(sample_rate)
        self._vad = webrtcvad.Vad(VAD_AGGRESSIVENESS)
        self._segmenter = Segmenter(segments=segments, utterances=utterances)
        self._pending: FloatArray = np.zeros(WINDOW - FRAME)  # history + not yet framed samples
        self._frame_no = 0
        self._step_bytes = 2 * max(1, int(sample_rate * MAX_STEP_SECONDS))

    @property
    def seconds(self) -> float:
        """Audio time analysed so far (whole frames)."""
        return self._frame_no * FRAME_SECONDS

    @property
    def step_bytes(self) -> int:
        """The most input bytes analysed at once (``MAX_STEP_SECONDS`` at the declared rate)."""
        return self._step_bytes

    def feed(self, data: bytes) -> list[Window]:
        """Analyse ``data`` in steps of at most :attr:`step_bytes` (same windows as one big step)."""
        step = self._step_bytes
        if len(data) <= step:
            return self._feed(data)
        out: list[Window] = []
        for i in range(0, len(data), step):
            out.extend(self._feed(data[i : i + step]))
        return out

    def _feed(self, data: bytes) -> list[Window]:
        raw = self._decoder.feed(data)
        self._zeros.feed(raw)
        samples = self._resampler.process(raw)
        if not len(samples):
            return []
        buf = np.concatenate([self._pending, samples])
        n = (len(buf) - (WINDOW - FRAME)) // FRAME
        if n <= 0:
            self._pending = buf
            return []
        idx = np.arange(WINDOW)[None, :] + FRAME * np.arange(n)[:, None]
        windows = buf[idx]
        self._pending = buf[n * FRAME :]
        return self._frames(windows)

    def finish(self) -> list[Window]:
        return self._mark(self._segmenter.finish())

    def _mark(self, windows: list[Window]) -> list[Window]:
        """Add the stream-level evidence (digital silence up to the window's end)."""
        found = self._zeros.found_at
        if found is None:
            return windows
        return [
            replace(w, measures=replace(w.measures, digital_silence=True)) if found <= w.end else w
            for w in windows
        ]

    def _frames(self, windows: FloatArray) -> list[Window]:
        feats = frame_features(windows)
        pcm = np.clip(np.round(windows[:, WINDOW - FRAME :] * 32768.0), -32768, 32767).astype("<i2")
        gate = (
            (feats.rms_db > ENERGY_FLOOR_DB)
            & (feats.flatness < FLATNESS_MAX)
            & (feats.tonality < TONALITY_MAX)
        )
        out: list[Window] = []
        is_speech = self._vad.is_speech
        push = self._segmenter.push
        db, f0, per = feats.rms_db.tolist(), feats.f0.tolist(), feats.periodicity.tolist()
        for i, ok in enumerate(gate.tolist()):
            speech = bool(ok) and is_speech(pcm[i].tobytes(), RATE)
            out.extend(push(self._frame_no, speech, db[i], f0[i], per[i]))
            self._frame_no += 1
        return self._mark(out)


# --------------------------------------------------------------------------- labels


@dataclass(frozen=True)
class TaskOutput:
    """One task's answer for one window: (label, posterior) pairs, best first."""

    task: str
    labels: tuple[str, ...]
    posteriors: tuple[float, ...]
    final_label: str
    embedding: tuple[float, ...] | None = None


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, x))))


def ordinal(x: float, thresholds: Sequence[float], scale: float) -> list[float]:
    """Cumulative-logit posteriors of len(thresholds)+1 ordered classes for value ``x``."""
    above = [_sigmoid((x - t) / scale) for t in thresholds]
    probs = [1.0 - above[0]]
    probs += [above[i - 1] - above[i] for i in range(1, len(above))]
    probs.append(above[-1])
    return [max(p, 0.0) for p in probs]


def softmax(scores: Sequence[float]) -> list[float]:
    top = max(scores)
    exps = [math.exp(s - top) for s in scores]
    total = sum(exps)
    return [e / total for e in exps]


def _task(task: str, labels: Sequence[str], probs: Sequence[float]) -> TaskOutput:
    total = sum(probs) or 1.0
    probs = [p / total for p in probs]
    order = sorted(range(len(labels)), key=lambda i: -probs[i])
    return TaskOutput(
        task,
        tuple(labels[i] for i in order),
        tuple(probs[i] for i in order),
        labels[order[0]],
    )


def semitones(f: float, ref: float) -> float:
    return 12.0 * math.log2(f / ref)


# Reference points of the heuristics (see the README, "The local emulator").
GENDER_BOUNDARY_HZ = 160.0
MALE_NORM_HZ, FEMALE_NORM_HZ = 120.0, 210.0
AGES = ("18 - 22", "23 - 30", "31 - 45", "46 - 65")
STRENGTH_DB = (-32.0, -20.0)
RATE_SYLL = (2.0, 3.5)
PITCH_VAR_NORM_ST = 6.0  # typical pitch variation of read/conversational speech (semitones)
ENERGY_VAR_NORM_DB = 9.0
SYLLABLE_NORM = 3.0
HESITATION_PAUSE = 0.20
AROUSAL = (-0.6, 0.6)
POSITIVITY = (-0.6, 0.6)
EMOTION_PROTOTYPES = {"neutral": (0.0, 0.0), "happy": (1.2, 1.0), "angry": (1.2, -1.0), "sad": (-1.2, -0.5)}
# deepfake: digital silence in the stream, or a machine-smooth pitch contour
SMOOTH_ROUGHNESS_ST = 0.05  # median |2nd difference| of pitch below this (semitones) is machine-smooth
SMOOTH_MIN_TRIPLETS = 20  # ...measured over at least this many clean voiced frame triples


@dataclass(frozen=True)
class Derived:
    """Dimensionless scores the behavioural labels share."""

    female: float  # P(female)
    pitch_height: float  # semitones above the norm of the likelier gender
    arousal: float
    valence: float


def derive(m: Measures) -> Derived:
    f0 = m.f0_median if math.isfinite(m.f0_median) and m.f0_median > 0 else GENDER_BOUNDARY_HZ
    female = _sigmoid(semitones(f0, GENDER_BOUNDARY_HZ) / 1.5)
    norm = FEMALE_NORM_HZ if female >= 0.5 else MALE_NORM_HZ
    height = semitones(f0, norm)
    pitch_var = (m.f0_std_st - PITCH_VAR_NORM_ST) / 2.0
    arousal = (
        0.5 * pitch_var
        + 0.3 * (m.energy_std_db - ENERGY_VAR_NORM_DB) / 2.0
        + 0.2 * (m.syllable_rate - SYLLABLE_NORM)
    )
    valence = 0.6 * height / 3.0 + 0.4 * pitch_var
    return Derived(female, height, arousal, valence)


def behavioral(m: Measures, *, embedding: bool = False) -> list[TaskOutput]:
    """The StreamAudio tasks for one window."""
    d = derive(m)
    out = [
        _task("gender", ("male", "female"), (1.0 - d.female, d.female)),
        # higher voice than the gender norm -> younger; classes ordered old -> young
        _task("age", AGES[::-1], ordinal(d.pitch_height, (-1.5, 0.5, 2.5), 0.6)),
        _task("emotion", *_emotion(d.arousal, d.valence)),
        _task("strength", ("weak", "neutral", "strong"), ordinal(m.loudness_db, STRENGTH_DB, 2.0)),
        _task("positivity", ("negative", "neutral", "positive"), ordinal(d.valence, POSITIVITY, 0.25)),
        _task("speaking_rate", ("slow", "normal", "fast"), ordinal(m.syllable_rate, RATE_SYLL, 0.3)),
        _task("hesitation", ("no", "yes"), ordinal(m.pause_ratio, (HESITATION_PAUSE,), 0.04)),
        _task("engagement", ("disengaged", "neutral", "engaged"), ordinal(d.arousal, AROUSAL, 0.25)),
    ]
    out.append(TaskOutput("features", (), (), "", feature_vector(m) if embedding else None))
    return out


def _emotion(arousal: float, valence: float) -> tuple[tuple[str, ...], list[float]]:
    """Nearest prototype in (arousal, valence) space, softened: softmax of -distance^2 / 0.5."""
    labels = tuple(EMOTION_PROTOTYPES)
    scores = [-((arousal - a) ** 2 + (valence - v) ** 2) / 0.5 for a, v in EMOTION_PROTOTYPES.values()]
    return labels, softmax(scores)


def spoof_score(m: Measures) -> float:
    """Evidence for synthetic speech, as a logit (> 0: spoofed).

    Two cues, each a heuristic: (1) digital silence -- recorded audio always carries some noise
    floor, generated (or spliced) audio often has runs of exact zeros; (2) a pitch contour
    smoother than a human voice produces (frame-to-frame wobble under 0.05 semitones).
    Without either cue the score leans bonafide (-2, or -3 with a clearly human pitch wobble).
    """
    score = -2.0
    if m.digital_silence:
        score += 4.0
    if m.clean_triplets >= SMOOTH_MIN_TRIPLETS:
        smooth = 4.0 * (SMOOTH_ROUGHNESS_ST - m.roughness_st) / SMOOTH_ROUGHNESS_ST
        score += max(-1.0, min(4.0, smooth))
    return score


def deepfake(m: Measures, *, embedding: bool = False) -> list[TaskOutput]:
    """DeepfakeDetection: digital silence or a machine-smooth pitch contour => spoofed."""
    spoofed = _sigmoid(spoof_score(m))
    out = [_task("deepfake", ("bonafide", "spoofed"), (1.0 - spoofed, spoofed))]
    if embedding:
        out.append(TaskOutput("features", (), (), "", feature_vector(m)))
    return out


def feature_vector(m: Measures) -> tuple[float, ...]:
    """A 12-number description of the window (roughly unit scale): the emulator's 'embedding'."""
    f0 = m.f0_median if math.isfinite(m.f0_median) else 0.0
    return (
        f0 / 200.0,
        m.f0_std_st / 3.0,
        m.jitter_st,
        (m.loudness_db + 30.0) / 10.0,
        m.energy_std_db / 10.0,
        m.energy_delta_db / 3.0,
        m.periodicity,
        m.voiced_fraction,
        m.syllable_rate / 5.0,
        m.pause_ratio,
        m.speech_seconds / 10.0,
        m.duration / 10.0,
    )


# --------------------------------------------------------------------------- wire formatting


def format_posteriors(probs: Sequence[float], decimals: int = 4) -> list[str]:
    """Round to ``decimals`` so the printed values sum to exactly 1 (largest remainder)."""
    unit = 10**decimals
    raw = [p * unit for p in probs]
    ints = [math.floor(r) for r in raw]
    short = unit - sum(ints)
    for i in sorted(range(len(raw)), key=lambda i: (ints[i] - raw[i], i))[: max(short, 0)]:
        ints[i] += 1
    return [f"{n / unit:.{decimals}f}" for n in ints]


def format_logit(p: float) -> str:
    """The natural log of the posterior (softmax of these gives the posteriors back)."""
    return f"{math.log(max(p, 1e-6)):.4f}"


def format_time(seconds: float) -> str:
    return f"{seconds:.2f}"


def format_embedding(values: Sequence[float]) -> str:
    return "[" + ", ".join(f"{v:.4f}" for v in values) + "]"


def analyze_all(pcm: bytes, sample_rate: int = RATE, chunk: int = 8000) -> Iterator[Window]:
    """Convenience for scripts and tests: every window of a whole buffer."""
    analyzer = StreamAnalyzer(sample_rate)
    for i in range(0, len(pcm), chunk):
        yield from analyzer.feed(pcm[i : i + chunk])
    yield from analyzer.finish()
