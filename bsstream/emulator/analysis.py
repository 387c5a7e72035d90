"""The emulator's ears: streaming VAD segmentation and acoustic measurements -> labels.

No grpc and no protobuf here. Audio goes in as PCM16 bytes in any chunking; windows
(segments of 2 s of speech, utterances ended by a 0.5 s pause) come out with measurements,
and the label functions turn measurements into posteriors calibrated to the distance from each
rule's boundary. The tasks and labels are one table, ``LABEL_SETS``, with where each name comes
from. Everything is a documented heuristic (see the README, "The local emulator"), deterministic,
and independent of how the bytes were chunked.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, fields, replace

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
MIN_FORMANT_FRAMES = 3  # a window's formant spacing needs at least this many measured frames
SPEED_OF_SOUND_CM_S = 35000.0

# Pitch.
F0_MIN, F0_MAX = 60.0, 400.0
VOICING_MIN = 0.45  # normalised autocorrelation peak for a frame to count as voiced
CLEAN_PERIODICITY = 0.90  # voiced frames this periodic are 'clean' (pitch roughness uses only these)

# Formants (for the vocal-tract-length cue): linear prediction of the 0-4 kHz band only
# (selective LPC from the power spectrum), so 8 kHz telephone audio measures like wideband audio.
LPC_ORDER = 10  # 4 formants below 4 kHz plus the spectral tilt
LPC_BAND_HZ = 4000.0
PRE_EMPHASIS = 0.97  # +6 dB/octave, as for formant analysis
FORMANT_MIN_HZ, FORMANT_MAX_HZ = 150.0, 3850.0
FORMANT_MAX_BANDWIDTH_HZ = 500.0  # wider poles are spectral shaping, not formants
FORMANT_MIN_PERIODICITY = 0.60  # only clearly voiced frames...
FORMANT_MIN_DB = -50.0  # ...that are not faint
FORMANT_EVERY = 2  # ...on every 2nd frame: 40 ms windows at a 40 ms hop (the cost is the root finding)
# The high band (deepfake cue): 4-7 kHz against 0.1-4 kHz. Its top is lowered to 0.45 x the
# declared input rate, and below 4.5 kHz it is not measured: upsampled narrowband audio has only
# images of the low band there.
HF_BAND_HZ = (4000.0, 7000.0)
HF_MIN_TOP_HZ = 4500.0
LF_BAND_HZ = (100.0, 4000.0)

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


def _bins(lo_hz: float, hi_hz: float) -> slice:
    return slice(int(lo_hz * NFFT / RATE), int(hi_hz * NFFT / RATE))


_HANN = np.hanning(WINDOW)
_HANN_R = _hann_autocorr()
_LAG_MIN = int(RATE / F0_MAX)
_LAG_MAX = math.ceil(RATE / F0_MIN)
_BAND = _bins(250, 4000)
_HF = _bins(*HF_BAND_HZ)
_LF = _bins(*LF_BAND_HZ)
_LPC_BINS = int(LPC_BAND_HZ * NFFT / RATE) + 1  # 0..4 kHz inclusive: a signal sampled at 8 kHz
_LPC_PRE = 1.0 + PRE_EMPHASIS**2 - 2.0 * PRE_EMPHASIS * np.cos(np.linspace(0.0, np.pi, _LPC_BINS))
_LPC_RATE = 2.0 * LPC_BAND_HZ


@dataclass(frozen=True)
class FrameBatch:
    """Per-frame measurements of consecutive 20 ms frames."""

    rms_db: FloatArray  # loudness of the 20 ms frame, dBFS
    f0: FloatArray  # Hz, 0 where unvoiced
    periodicity: FloatArray  # normalised autocorrelation at the pitch lag (0..1)
    flatness: FloatArray  # spectral flatness 250-4000 Hz (1 = white noise)
    tonality: FloatArray  # share of energy near the strongest spectral peak (1 = pure tone)
    hf_ratio_db: FloatArray  # energy 4-7 kHz relative to 0.1-4 kHz, dB
    hf_flatness: FloatArray  # spectral flatness 4-7 kHz (1 = noise, near 0 = harmonics)
    lpc_r: FloatArray  # (n, LPC_ORDER + 1) autocorrelation of the 0-4 kHz band; nan rows: no formants


def hf_band(sample_rate: int) -> slice | None:
    """The 1024-point FFT bins of the high band for input declared at ``sample_rate`` (None: none)."""
    top = min(HF_BAND_HZ[1], 0.45 * sample_rate)
    return _bins(HF_BAND_HZ[0], top) if top >= HF_MIN_TOP_HZ else None


def frame_features(
    windows: FloatArray, first_frame: int | None = None, high_band: slice | None = _HF
) -> FrameBatch:
    """Measure a (n, 640) matrix of 40 ms windows; each frame is the last 320 samples.

    Formants are solved later, a window at a time (:func:`spacing_from_autocorrelation`): here
    only the band's autocorrelation is kept, for clearly voiced frames. ``first_frame`` is the
    stream frame number of row 0: then only every ``FORMANT_EVERY``-th stream frame is kept (at
    2, 40 ms windows that just meet: half the cost, little lost). Without it every such row is.
    ``high_band`` is the FFT bin range of the high band (:func:`hf_band`); None: not measured.
    """
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
    if high_band is None:
        hf_ratio_db = hf_flatness = np.full(len(power), np.nan)
    else:
        high = power[:, high_band] + 1e-14
        high_sum = high.sum(axis=1)
        hf_ratio_db = 10.0 * np.log10(high_sum / (power[:, _LF].sum(axis=1) + 1e-14))
        hf_flatness = np.exp(np.mean(np.log(high), axis=1)) / (high_sum / high.shape[1])
    measure = (periodicity >= FORMANT_MIN_PERIODICITY) & (rms_db > FORMANT_MIN_DB)
    if first_frame is not None:
        measure &= (first_frame + np.arange(len(measure))) % FORMANT_EVERY == 0
    lpc_r = np.full((len(measure), LPC_ORDER + 1), np.nan)
    rows = np.flatnonzero(measure)
    if len(rows):
        lpc_r[rows] = lpc_autocorrelation(power[rows])
    return FrameBatch(rms_db, f0, periodicity, flatness, tonality, hf_ratio_db, hf_flatness, lpc_r)


_TOEPLITZ = np.abs(np.arange(LPC_ORDER)[:, None] - np.arange(LPC_ORDER)[None, :])


def lpc_autocorrelation(power: FloatArray) -> FloatArray:
    """Autocorrelation (lags 0..LPC_ORDER) of the pre-emphasised 0-4 kHz band of each row of
    1024-point power spectra, as if that band were a signal sampled at 8 kHz."""
    # an inverse FFT, not a matrix product: BLAS sums in an order that depends on the row count,
    # and the windows must not depend on how the stream was chunked
    r = np.fft.irfft(power[:, :_LPC_BINS] * _LPC_PRE, 2 * (_LPC_BINS - 1), axis=1)[:, : LPC_ORDER + 1]
    r[:, 0] *= 1.0 + 1e-4  # a whisper of white noise keeps the normal equations well conditioned
    return np.asarray(r, dtype=np.float64)


def formants_from_autocorrelation(r: FloatArray) -> FloatArray:
    """Formant frequencies (Hz, ascending, nan-padded to LPC_ORDER // 2 columns) per row: LPC of
    order 10 (the normal equations solved in one batched call), the roots of the predictor,
    kept when between 150 and 3850 Hz with a bandwidth under 500 Hz."""
    out = np.full((len(r), LPC_ORDER // 2), np.nan)
    ok = np.isfinite(r).all(axis=1) & (r[:, 0] > 1e-20)
    if not ok.any():
        return out
    r = r[ok]
    a = np.linalg.solve(r[:, _TOEPLITZ], -r[:, 1:, None])[:, :, 0]
    companion = np.zeros((len(a), LPC_ORDER, LPC_ORDER))
    companion[:, 0, :] = -a
    companion[:, np.arange(1, LPC_ORDER), np.arange(LPC_ORDER - 1)] = 1.0
    roots = np.linalg.eigvals(companion)
    freq = np.angle(roots) * (_LPC_RATE / (2.0 * np.pi))
    bandwidth = -np.log(np.maximum(np.abs(roots), 1e-12)) * (_LPC_RATE / np.pi)
    keep = (freq > FORMANT_MIN_HZ) & (freq < FORMANT_MAX_HZ) & (bandwidth < FORMANT_MAX_BANDWIDTH_HZ)
    found = np.sort(np.where(keep, freq, np.inf), axis=1)[:, : LPC_ORDER // 2]
    found[np.isinf(found)] = np.nan
    out[ok] = found
    return out


_SPACING_K = np.arange(1, 5) - 0.5  # F_k = (k - 1/2) * spacing for a uniform tube closed at one end


def spacing_from_autocorrelation(r: FloatArray) -> FloatArray:
    """Formant spacing (Hz) per row: the least-squares fit through the origin of
    F_k = (k - 1/2) * spacing over the first (up to 4) formants; nan with fewer than 3."""
    f = formants_from_autocorrelation(r)[:, :4]
    have = np.isfinite(f)
    k = np.where(have, _SPACING_K, 0.0)
    spacing = (np.where(have, f, 0.0) * k).sum(axis=1) / np.maximum((k * k).sum(axis=1), 1e-12)
    return np.where(have.sum(axis=1) >= 3, spacing, np.nan)


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


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


@dataclass(frozen=True, eq=False)
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
    formant_spacing_hz: float = math.nan  # median formant spacing of the measured frames
    formant_frames: int = 0  # frames behind formant_spacing_hz
    hf_ratio_db: float = math.nan  # median over voiced speech frames: 4-7 kHz vs 0.1-4 kHz, dB
    hf_flatness: float = math.nan  # median over voiced speech frames: flatness of 4-7 kHz

    def __eq__(self, other: object) -> bool:
        """Field by field, with nan equal to nan (a measurement that could not be made is the same
        in two identical analyses; Python 3.13's dataclass equality would say otherwise)."""
        if not isinstance(other, Measures):
            return NotImplemented
        return all(_same(getattr(self, f.name), getattr(other, f.name)) for f in fields(self))

    __hash__ = None  # type: ignore[assignment]  # equality with nan has no consistent hash

    @property
    def vtl_cm(self) -> float:
        """Apparent vocal-tract length (cm): a uniform tube closed at the glottis has formants
        (k - 1/2) * c / (2 L), so L = c / (2 * spacing), with c = 35,000 cm/s."""
        return SPEED_OF_SOUND_CM_S / (2.0 * self.formant_spacing_hz)


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


def _median(x: FloatArray) -> float:
    x = x[np.isfinite(x)]
    return float(np.median(x)) if len(x) else math.nan


def measure(
    db: FloatArray,
    f0: FloatArray,
    per: FloatArray,
    speech: npt.NDArray[np.bool_],
    hf_ratio: FloatArray | None = None,
    hf_flat: FloatArray | None = None,
    spacing: FloatArray | None = None,
) -> Measures:
    """Measurements of one window from its per-frame rows (a slice of the stream)."""
    n = len(db)
    nan = np.full(n, np.nan)
    hf_ratio = nan if hf_ratio is None else hf_ratio
    hf_flat = nan if hf_flat is None else hf_flat
    spacing = nan if spacing is None else spacing
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
    spaced = spacing[speech]
    spaced = spaced[np.isfinite(spaced)]
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
        formant_spacing_hz=float(np.median(spaced)) if len(spaced) >= MIN_FORMANT_FRAMES else math.nan,
        formant_frames=len(spaced),
        hf_ratio_db=_median(hf_ratio[voiced]),
        hf_flatness=_median(hf_flat[voiced]),
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
    hf_ratio: list[float] = field(default_factory=list)
    hf_flat: list[float] = field(default_factory=list)
    lpc: list[FloatArray | None] = field(default_factory=list)  # band autocorrelation, formant frames
    spacing: list[float] = field(default_factory=list)  # solved for the first len(spacing) rows

    def reset(self, base: int) -> None:
        self.base = base
        self.lpc.clear()
        for rows in (self.db, self.f0, self.per, self.speech, self.hf_ratio, self.hf_flat, self.spacing):
            rows.clear()

    def _solve(self, b: int) -> None:
        """Formant spacing of rows [len(spacing), b): one batched solve per window, not per message;
        only speech rows (windows measure nothing else)."""
        done = len(self.spacing)
        if b <= done:
            return
        pending = self.lpc[done:b]
        speech = self.speech[done:b]
        values = [math.nan] * len(pending)
        have = [(i, r) for i, r in enumerate(pending) if r is not None and speech[i]]
        if have:
            solved = spacing_from_autocorrelation(np.stack([r for _, r in have]))
            for (i, _), v in zip(have, solved.tolist(), strict=True):
                values[i] = v
        self.spacing.extend(values)

    def measure(self, start: int, end: int) -> Measures:
        a, b = start - self.base, end - self.base
        self._solve(b)
        return measure(
            np.asarray(self.db[a:b]),
            np.asarray(self.f0[a:b]),
            np.asarray(self.per[a:b]),
            np.asarray(self.speech[a:b], dtype=bool),
            np.asarray(self.hf_ratio[a:b]),
            np.asarray(self.hf_flat[a:b]),
            np.asarray(self.spacing[a:b]),
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

    def push(
        self,
        frame_no: int,
        speech: bool,
        db: float,
        f0: float,
        per: float,
        hf_ratio: float = math.nan,
        hf_flat: float = math.nan,
        lpc: FloatArray | None = None,
    ) -> list[Window]:
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
        rows.hf_ratio.append(hf_ratio)
        rows.hf_flat.append(hf_flat)
        rows.lpc.append(lpc)
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
        self._high_band = hf_band(sample_rate)

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
        feats = frame_features(windows, self._frame_no, self._high_band)
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
        hfr, hfl = feats.hf_ratio_db.tolist(), feats.hf_flatness.tolist()
        lpc_r = feats.lpc_r
        has_lpc = np.isfinite(lpc_r[:, 0]).tolist()
        for i, ok in enumerate(gate.tolist()):
            speech = bool(ok) and is_speech(pcm[i].tobytes(), RATE)
            lpc = lpc_r[i] if has_lpc[i] else None
            out.extend(push(self._frame_no, speech, db[i], f0[i], per[i], hfr[i], hfl[i], lpc))
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


def _task(task: str, labels: Sequence[str], probs: Sequence[float], doubt: float = 0.0) -> TaskOutput:
    """Normalise, mix with the uniform distribution by ``doubt`` (see TASK_DOUBT), sort best first."""
    total = sum(probs) or 1.0
    k = len(labels)
    probs = [(1.0 - doubt) * p / total + doubt / k for p in probs]
    order = sorted(range(k), key=lambda i: -probs[i])
    return TaskOutput(
        task,
        tuple(labels[i] for i in order),
        tuple(probs[i] for i in order),
        labels[order[0]],
    )


def semitones(f: float, ref: float) -> float:
    return 12.0 * math.log2(f / ref)


@dataclass(frozen=True)
class LabelSet:
    """A task the emulator sends, its labels, and where the names come from."""

    task: str
    labels: tuple[str, ...]  # in the order the heuristic computes them (the wire sorts best first)
    source: str


AGES = ("18 - 22", "23 - 30", "31 - 45", "46 - 65")
# emotion: the nearest of these (arousal, valence) prototypes
EMOTION_PROTOTYPES = {"neutral": (0.0, 0.0), "happy": (1.2, 1.0), "angry": (1.2, -1.0), "sad": (-1.2, -0.5)}
# A fixed guess (the emulator identifies no language): 'en' first, as in the vendor SDK's example.
LANGUAGE_GUESS = (
    ("en", 0.40),
    ("es", 0.10),
    ("fr", 0.10),
    ("de", 0.10),
    ("it", 0.10),
    ("pt", 0.10),
    ("el", 0.10),
)
# The vendor SDK documents the features embedding as "a stringified array of length 728".
EMBEDDING_SIZE = 728

_VENDOR = "vendor docs (API contract; the SDK's README example)"
_TASK_ONLY = "task named by the vendor; label names are the emulator's choice"
LABEL_SETS: dict[str, LabelSet] = {
    s.task: s
    for s in (
        LabelSet("gender", ("male", "female"), _VENDOR),
        LabelSet("age", AGES, _VENDOR),
        LabelSet("emotion", tuple(EMOTION_PROTOTYPES), _VENDOR),
        LabelSet("strength", ("weak", "neutral", "strong"), "vendor docs (API contract)"),
        LabelSet("positivity", ("negative", "neutral", "positive"), "vendor docs (API contract)"),
        LabelSet(
            "speaking_rate", ("slow", "normal", "fast"), "vendor docs (API contract lists these and more)"
        ),
        LabelSet("hesitation", ("no", "yes"), _TASK_ONLY),
        LabelSet("engagement", ("disengaged", "neutral", "engaged"), _TASK_ONLY),
        LabelSet("politeness", ("rude", "neutral", "polite"), _TASK_ONLY),
        LabelSet(
            "language",
            tuple(code for code, _ in LANGUAGE_GUESS),
            "ISO 639-1 codes; 'en' as in the vendor SDK's README example, the rest the emulator's choice",
        ),
        LabelSet("features", (), f"vendor docs: embedding only, empty label; {EMBEDDING_SIZE} values (SDK)"),
        LabelSet("deepfake", ("bonafide", "spoofed"), "vendor docs (API contract)"),
    )
}
BEHAVIORAL_TASKS = tuple(t for t in LABEL_SETS if t != "deepfake")  # the order StreamAudio sends them
# How weak each task's cue is: its posteriors are mixed with the uniform distribution by this
# share, so e.g. age (0.5, four classes) never claims more than 0.5 + 0.5 / 4 = 0.625.
TASK_DOUBT = {
    "gender": 0.0,  # bounded by its own cue weights (at most 0.98)
    "age": 0.5,
    "emotion": 0.4,
    "strength": 0.2,
    "positivity": 0.4,
    "speaking_rate": 0.2,
    "hesitation": 0.2,
    "engagement": 0.4,
    "politeness": 0.5,
    "deepfake": 0.0,  # bounded by its own clip (at most 0.95)
}

# Reference points of the heuristics (see the README, "The local emulator").
# gender: F0 and formant spacing (apparent vocal-tract length), with the pitch range.
GENDER_F0_HZ = 165.0  # between typical adult male (~120 Hz) and female (~210 Hz) speaking pitch
GENDER_SPACING_HZ = 1075.0  # apparent VTL 16.3 cm: men measure ~1000 Hz here (17.5 cm), women ~1150
PITCH_CUE_MAX, PITCH_CUE_ST = 1.0, 4.0  # logit at most +-1 (73 %); tanh of semitones / 4
VTL_CUE_MAX, VTL_CUE_ST = 3.0, 1.5  # logit at most +-3 (95 %); tanh of semitones / 1.5
VTL_EVIDENCE_FRAMES = 10  # the VTL cue weighs n / (n + 10) for n frames with measured formants
PITCH_RANGE_ST, PITCH_RANGE_SOFT_ST = 5.0, 3.0  # pitch spread above 5 st: the pitch cue / (1 + excess / 3)
MALE_NORM_HZ, FEMALE_NORM_HZ = 120.0, 210.0
PITCH_HEIGHT_MAX_ST = 4.0
STRENGTH_DB = (-32.0, -20.0)
RATE_SYLL = (2.0, 3.5)
PITCH_VAR_NORM_ST = 6.0  # typical pitch variation of read/conversational speech (semitones)
ENERGY_VAR_NORM_DB = 9.0
SYLLABLE_NORM = 3.0
HESITATION_PAUSE = 0.20
AROUSAL = (-0.6, 0.6)
POSITIVITY = (-0.6, 0.6)
POLITENESS = (-0.6, 0.6)
POLITENESS_LOUDNESS_DB = -26.0
# deepfake: a prior towards bonafide, a noise-filled high band, an unsteady or machine-smooth pitch.
SPOOF_PRIOR = -1.25  # no evidence either way: 22 % spoofed
SPOOF_MAX = 3.0  # the verdict never claims more than 95 % either way
HF_GATE_DB = (-34.0, -31.5)  # the high-band cue counts from 0 (4-7 kHz 34 dB under 0.1-4 kHz) to fully (31.5)
HF_MIN_FRAMES = 10  # voiced frames needed for the high-band cue
HF_FLATNESS_BOUNDARY = 0.088  # median 4-7 kHz flatness of voiced frames: above, noise-filled
HF_CUE_MAX, HF_CUE_OCT = 2.5, 0.6  # logit at most +-2.5; tanh of octaves (log2) from the boundary / 0.6
ROUGH_BOUNDARY_ST, ROUGH_SCALE_ST, ROUGH_CUE_MAX = 0.20, 0.05, 0.8  # only adds: tanh((r - 0.20) / 0.05)
ROUGH_FULL_TRIPLETS = 20  # the roughness cues weigh min(1, triplets / 20)
SMOOTH_ROUGHNESS_ST = 0.05  # median |2nd difference| of pitch below this (semitones) is machine-smooth
SMOOTH_CUE_MAX = 3.0


def _finite(x: float) -> bool:
    return math.isfinite(x) and x > 0


def gender_logit(m: Measures) -> float:
    """Evidence for female (logit): a pitch cue and a vocal-tract-length cue, each bounded.

    Pitch: tanh(semitones of median F0 above 165 Hz / 4), at most +-1, divided by
    1 + (pitch spread - 5 st) / 3 when the spread exceeds 5 st (raised, declamatory speech lifts
    F0, not the vocal tract). VTL: tanh(semitones of the formant spacing above 1075 Hz / 1.5),
    at most +-3, weighted n / (n + 10) by its n measured frames. Without formants the pitch cue
    alone says at most 73 %.
    """
    logit = 0.0
    if _finite(m.f0_median):
        weight = 1.0 / (1.0 + max(0.0, m.f0_std_st - PITCH_RANGE_ST) / PITCH_RANGE_SOFT_ST)
        logit += weight * PITCH_CUE_MAX * math.tanh(semitones(m.f0_median, GENDER_F0_HZ) / PITCH_CUE_ST)
    if _finite(m.formant_spacing_hz):
        weight = m.formant_frames / (m.formant_frames + VTL_EVIDENCE_FRAMES)
        st = semitones(m.formant_spacing_hz, GENDER_SPACING_HZ)
        logit += weight * VTL_CUE_MAX * math.tanh(st / VTL_CUE_ST)
    return logit


@dataclass(frozen=True)
class Derived:
    """Dimensionless scores the behavioural labels share."""

    female: float  # P(female)
    pitch_height: float  # semitones above the gender norm (geometric blend by P(female)), clipped to +-4
    arousal: float
    valence: float


def derive(m: Measures) -> Derived:
    female = _sigmoid(gender_logit(m))
    norm = MALE_NORM_HZ * (FEMALE_NORM_HZ / MALE_NORM_HZ) ** female
    height = semitones(m.f0_median, norm) if _finite(m.f0_median) else 0.0
    height = max(-PITCH_HEIGHT_MAX_ST, min(PITCH_HEIGHT_MAX_ST, height))
    pitch_var = (m.f0_std_st - PITCH_VAR_NORM_ST) / 2.0
    arousal = (
        0.5 * pitch_var
        + 0.3 * (m.energy_std_db - ENERGY_VAR_NORM_DB) / 2.0
        + 0.2 * (m.syllable_rate - SYLLABLE_NORM)
    )
    valence = 0.6 * height / 3.0 + 0.4 * pitch_var
    return Derived(female, height, arousal, valence)


def politeness_score(m: Measures, d: Derived) -> float:
    """Calm and soft reads polite, agitated and loud reads rude: -(arousal + (loudness + 26 dB) / 6) / 2."""
    return -0.5 * (d.arousal + (m.loudness_db - POLITENESS_LOUDNESS_DB) / 6.0)


def behavioral(m: Measures, *, embedding: bool = False) -> list[TaskOutput]:
    """The StreamAudio tasks for one window, in BEHAVIORAL_TASKS order."""
    d = derive(m)
    probs: dict[str, Sequence[float]] = {
        "gender": (1.0 - d.female, d.female),
        # higher voice than the gender norm -> younger; AGES runs young -> old
        "age": ordinal(-d.pitch_height, (-2.5, -0.5, 1.5), 1.0),
        "emotion": _emotion(d.arousal, d.valence),
        "strength": ordinal(m.loudness_db, STRENGTH_DB, 2.0),
        "positivity": ordinal(d.valence, POSITIVITY, 0.25),
        "speaking_rate": ordinal(m.syllable_rate, RATE_SYLL, 0.3),
        "hesitation": ordinal(m.pause_ratio, (HESITATION_PAUSE,), 0.04),
        "engagement": ordinal(d.arousal, AROUSAL, 0.25),
        "politeness": ordinal(politeness_score(m, d), POLITENESS, 0.3),
        "language": tuple(p for _, p in LANGUAGE_GUESS),
    }
    out = [_task(t, LABEL_SETS[t].labels, probs[t], TASK_DOUBT.get(t, 0.0)) for t in probs]
    out.append(TaskOutput("features", (), (), "", feature_vector(m) if embedding else None))
    return out


def _emotion(arousal: float, valence: float) -> list[float]:
    """Nearest prototype in (arousal, valence) space, softened: softmax of -distance^2 / 0.5."""
    scores = [-((arousal - a) ** 2 + (valence - v) ** 2) / 0.5 for a, v in EMOTION_PROTOTYPES.values()]
    return softmax(scores)


def spoof_score(m: Measures) -> float:
    """Evidence for synthetic speech, as a logit (> 0: spoofed), clipped to +-3 (95 %).

    Digital silence is not evidence (edits, VoIP and muted microphones make it). The cues:
    (1) the 4-7 kHz band of voiced frames: a human voice keeps harmonics there (flatness about
    0.02-0.08), the TTS sample's vocoder fills it with noise (0.12-0.15); read only when that band
    is strong (within 31.5-34 dB of 0.1-4 kHz), so narrowband, lossy or dull recordings give no
    evidence; (2) pitch roughness above 0.20 st (the TTS sample's pitch jumps between frames,
    0.26-0.32 st; clean voices measure 0.11-0.21); (3) pitch smoother than any voice (< 0.05 st).
    """
    score = SPOOF_PRIOR
    voiced_frames = m.voiced_fraction * m.speech_seconds / FRAME_SECONDS
    if math.isfinite(m.hf_ratio_db) and _finite(m.hf_flatness) and voiced_frames >= HF_MIN_FRAMES:
        lo, hi = HF_GATE_DB
        gate = max(0.0, min(1.0, (m.hf_ratio_db - lo) / (hi - lo)))
        octaves = math.log2(m.hf_flatness / HF_FLATNESS_BOUNDARY)
        score += gate * HF_CUE_MAX * math.tanh(octaves / HF_CUE_OCT)
    if m.clean_triplets:
        weight = min(1.0, m.clean_triplets / ROUGH_FULL_TRIPLETS)
        rough = math.tanh((m.roughness_st - ROUGH_BOUNDARY_ST) / ROUGH_SCALE_ST)
        score += weight * ROUGH_CUE_MAX * max(0.0, rough)
        smooth = (SMOOTH_ROUGHNESS_ST - m.roughness_st) / SMOOTH_ROUGHNESS_ST
        score += weight * SMOOTH_CUE_MAX * max(0.0, min(1.0, smooth))
    return max(-SPOOF_MAX, min(SPOOF_MAX, score))


def deepfake(m: Measures, *, embedding: bool = False) -> list[TaskOutput]:
    """DeepfakeDetection: see :func:`spoof_score`."""
    spoofed = _sigmoid(spoof_score(m))
    out = [_task("deepfake", LABEL_SETS["deepfake"].labels, (1.0 - spoofed, spoofed))]
    if embedding:
        out.append(TaskOutput("features", (), (), "", feature_vector(m)))
    return out


# What the first values of the embedding are (the rest, up to EMBEDDING_SIZE, are 0.0).
FEATURE_NAMES = (
    "median F0 / 200 Hz",
    "pitch variation / 3 st",
    "pitch jitter, st",
    "pitch roughness, st",
    "(loudness + 30 dB) / 10",
    "loudness variation / 10 dB",
    "loudness change / 3 dB",
    "periodicity",
    "voiced fraction",
    "syllable rate / 5 per s",
    "pause ratio",
    "formant spacing / 1000 Hz",
    "(4-7 kHz level + 40 dB) / 10",
    "4-7 kHz flatness",
    "digital silence so far (0 or 1)",
    "speech seconds / 10",
    "window seconds / 10",
)


def feature_vector(m: Measures) -> tuple[float, ...]:
    """The emulator's 'embedding': EMBEDDING_SIZE numbers, the window's measurements (roughly unit
    scale, FEATURE_NAMES) first, then zeros. A measurement that could not be made is 0.0."""

    def v(x: float) -> float:
        return x if math.isfinite(x) else 0.0

    values = (
        v(m.f0_median) / 200.0,
        m.f0_std_st / 3.0,
        m.jitter_st,
        m.roughness_st,
        (m.loudness_db + 30.0) / 10.0,
        m.energy_std_db / 10.0,
        m.energy_delta_db / 3.0,
        m.periodicity,
        m.voiced_fraction,
        m.syllable_rate / 5.0,
        m.pause_ratio,
        v(m.formant_spacing_hz) / 1000.0,
        v(m.hf_ratio_db + 40.0) / 10.0,
        v(m.hf_flatness),
        1.0 if m.digital_silence else 0.0,
        m.speech_seconds / 10.0,
        m.duration / 10.0,
    )
    return values + (0.0,) * (EMBEDDING_SIZE - len(values))


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
