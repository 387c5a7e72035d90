"""Test audio: the speech recordings shipped in ``tests/data`` and the format variants made from them.

Only five real recordings ship with the repository (see ``tests/data/SOURCES.md`` for origin and
licence). Every other format a test needs is generated from them here, with the ffmpeg bundled by
``imageio-ffmpeg`` (never whatever ``ffmpeg`` is on ``PATH``) plus numpy and the ``wave`` module.
The output is deterministic: the same bundled ffmpeg gives the same bytes.

The ``testdata`` fixture in ``tests/conftest.py`` calls :func:`build` once per session. To make
the set by hand (for example to regenerate the README's emulator results)::

    python -m tests.datagen OUT_DIR
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import sys
import time
import wave
from collections.abc import Sequence
from pathlib import Path

import numpy as np

SHIPPED_DIR = Path(__file__).resolve().parent / "data"

JFK = "01_jfk_16k_mono_s16.wav"
P286 = "05_vctk_p286_011_48k_mono_s16.wav"
COMMONVOICE = "07_commonvoice_en_651325_48k_mono.mp3"
VOXCONVERSE = "10_voxconverse_aepyx_8k_mono_s16_169s.wav"
ORCA = "12_tts_orca_en_female_22k_mono_s16.wav"
SHIPPED = (JFK, P286, COMMONVOICE, VOXCONVERSE, ORCA)

TWO_SPEAKERS_MULAW = "g_two_speakers_8k_stereo_mulaw.wav"
TWO_SPEAKERS_FLOAT = "g_two_speakers_8k_stereo_float32.wav"
P286_44K1_STEREO = "g_vctk_p286_44k1_stereo_s16.wav"
JFK_FLAC = "g_jfk_44k1_stereo_s24.flac"
JFK_M4A = "g_jfk_44k1_stereo_aac.m4a"
P286_OPUS = "g_vctk_p286_16k_mono.opus"
DIALOGUE = "g_dialogue_16k_mono_s16_zero_gaps.wav"
GENERATED = (TWO_SPEAKERS_MULAW, TWO_SPEAKERS_FLOAT, P286_44K1_STEREO, JFK_FLAC, JFK_M4A, P286_OPUS, DIALOGUE)

# The two-speaker stereo file: ch0 is p286 (male) from this offset, ch1 the Orca TTS (female)
# clip; as long as the Orca clip.
TWO_SPEAKERS_P286_START = 0.50
# The dialogue: p286 is split into two turns in its natural pause at 2.75-3.12 s.
P286_SPLIT = 2.96
DIALOGUE_RATE = 16000
GAP_SAMPLES = 11200  # 0.70 s of exact digital zero after every turn

# Encoders, in order of preference, per generated format.
ENCODERS: dict[str, tuple[str, ...]] = {
    "mu-law WAV": ("pcm_mulaw",),
    "FLAC": ("flac",),
    "M4A/AAC": ("aac",),
    "Ogg Opus": ("libopus", "opus"),
}

# No encoder version, creation time or random stream serial in the output.
BITEXACT = ("-fflags", "+bitexact", "-flags:a", "+bitexact", "-map_metadata", "-1")


class TestDataError(RuntimeError):
    """The test audio cannot be made (missing recording, missing encoder, ffmpeg failure)."""

    __test__ = False  # not a pytest test class


def ffmpeg_exe() -> str:
    """The ffmpeg that imageio-ffmpeg bundles (not the one on PATH)."""
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


def run_ffmpeg(exe: str, args: Sequence[str], *, stdin: bytes | None = None) -> bytes:
    cmd = [exe, *(["-nostdin"] if stdin is None else []), "-hide_banner", "-loglevel", "error", *args]
    proc = subprocess.run(cmd, input=stdin, capture_output=True, timeout=60, check=False)
    if proc.returncode != 0:
        detail = proc.stderr.decode(errors="replace").strip().splitlines()
        raise TestDataError(f"{exe} {' '.join(args)} failed: {detail[-1] if detail else proc.returncode}")
    return proc.stdout


def available_encoders(exe: str) -> set[str]:
    """Names of the audio encoders ``exe`` has (from ``ffmpeg -encoders``)."""
    out = run_ffmpeg(exe, ["-encoders"]).decode(errors="replace")
    names = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2 and len(parts[0]) == 6 and parts[0].startswith("A"):
            names.add(parts[1])
    return names


def pick_encoder(exe: str, have: set[str], kind: str) -> str:
    for name in ENCODERS[kind]:
        if name in have:
            return name
    raise TestDataError(
        f"the bundled ffmpeg ({exe}) has no {' or '.join(ENCODERS[kind])} encoder, "
        f"needed to make the {kind} test file; install an imageio-ffmpeg whose ffmpeg has it"
    )


def decode(exe: str, path: Path, rate: int, *, sample_format: str = "s16le") -> np.ndarray:
    """``path`` as mono at ``rate``: int16 for s16le, float32 for f32le."""
    raw = run_ffmpeg(exe, ["-i", str(path), "-f", sample_format, "-ac", "1", "-ar", str(rate), "-"])
    return np.frombuffer(raw, dtype="<i2" if sample_format == "s16le" else "<f4")


def strip_zeros(x: np.ndarray) -> np.ndarray:
    """Drop the exact-zero samples at both ends (so the gaps are exactly GAP_SAMPLES long)."""
    nonzero = np.flatnonzero(x)
    return x[nonzero[0] : nonzero[-1] + 1]


def write_wav_s16(path: Path, frames: np.ndarray, rate: int) -> None:
    """frames: int16, shape (n,) or (n, channels)."""
    channels = 1 if frames.ndim == 1 else frames.shape[1]
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames.astype("<i2").tobytes())


def write_wav_float32(path: Path, frames: np.ndarray, rate: int) -> None:
    """IEEE float WAV (format 3) with a ``fact`` chunk, as non-PCM WAVs must have."""
    channels = frames.shape[1]
    data = frames.astype("<f4").tobytes()
    fmt = struct.pack("<HHIIHHH", 3, channels, rate, rate * channels * 4, channels * 4, 32, 0)
    fact = struct.pack("<I", frames.shape[0])
    body = b"WAVE"
    body += b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"fact" + struct.pack("<I", len(fact)) + fact
    body += b"data" + struct.pack("<I", len(data)) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)


def dialogue_turns(exe: str, source: Path) -> list[np.ndarray]:
    """Alternating male/female turns at 16 kHz: p286 (first part), Orca, Common Voice, Orca,
    p286 (second part), Orca."""
    p286 = decode(exe, source / P286, DIALOGUE_RATE)
    orca = strip_zeros(decode(exe, source / ORCA, DIALOGUE_RATE))
    commonvoice = strip_zeros(decode(exe, source / COMMONVOICE, DIALOGUE_RATE))
    split = round(P286_SPLIT * DIALOGUE_RATE)
    return [strip_zeros(p286[:split]), orca, commonvoice, orca, strip_zeros(p286[split:]), orca]


def build(source: Path, out: Path) -> Path:
    """Copy the shipped recordings from ``source`` into ``out`` and generate the variants there."""
    missing = [name for name in SHIPPED if not (source / name).is_file()]
    if missing:
        raise TestDataError(f"test recordings missing from {source}: {', '.join(missing)}")
    out.mkdir(parents=True, exist_ok=True)
    for name in SHIPPED:
        shutil.copyfile(source / name, out / name)

    exe = ffmpeg_exe()
    have = available_encoders(exe)
    mulaw = pick_encoder(exe, have, "mu-law WAV")
    flac = pick_encoder(exe, have, "FLAC")
    aac = pick_encoder(exe, have, "M4A/AAC")
    opus = pick_encoder(exe, have, "Ogg Opus")

    # Two speakers, one per channel, 8 kHz: float32 and mu-law of the same samples.
    orca8 = decode(exe, source / ORCA, 8000, sample_format="f32le")
    p286_8 = decode(exe, source / P286, 8000, sample_format="f32le")
    start = round(TWO_SPEAKERS_P286_START * 8000)
    stereo = np.clip(np.stack([p286_8[start : start + len(orca8)], orca8], axis=1), -1.0, 1.0)
    write_wav_float32(out / TWO_SPEAKERS_FLOAT, stereo, 8000)
    run_ffmpeg(
        exe,
        ["-f", "f32le", "-ar", "8000", "-ac", "2", "-i", "pipe:0", *BITEXACT, "-c:a", mulaw, "-y",
         str(out / TWO_SPEAKERS_MULAW)],
        stdin=stereo.astype("<f4").tobytes(),
    )  # fmt: skip

    # p286 at 44.1 kHz, two identical channels, 16-bit PCM.
    p286_44 = decode(exe, source / P286, 44100)
    write_wav_s16(out / P286_44K1_STEREO, np.stack([p286_44, p286_44], axis=1), 44100)

    # JFK as 24-bit 44.1 kHz stereo FLAC and as AAC-LC in M4A.
    jfk = str(source / JFK)
    run_ffmpeg(
        exe,
        ["-i", jfk, *BITEXACT, "-ar", "44100", "-ac", "2", "-c:a", flac, "-sample_fmt", "s32",
         "-bits_per_raw_sample", "24", "-y", str(out / JFK_FLAC)],
    )  # fmt: skip
    run_ffmpeg(
        exe,
        ["-i", jfk, *BITEXACT, "-ar", "44100", "-ac", "2", "-c:a", aac, "-b:a", "96k",
         "-y", str(out / JFK_M4A)],
    )  # fmt: skip

    # p286 as Ogg Opus from 16 kHz mono input (libopus; ffmpeg's own encoder only takes 48 kHz).
    opus_args = ["-ar", "16000", "-b:a", "24k"] if opus == "libopus" else ["-ar", "48000", "-strict", "-2"]
    run_ffmpeg(exe, ["-i", str(source / P286), *BITEXACT, "-ac", "1", "-c:a", opus, *opus_args, "-y",
                     str(out / P286_OPUS)])  # fmt: skip

    # The dialogue: turns separated by 0.70 s of exact digital zero (one after the last turn too).
    gap = np.zeros(GAP_SAMPLES, dtype="<i2")
    pieces: list[np.ndarray] = []
    for turn in dialogue_turns(exe, source):
        pieces += [turn, gap]
    write_wav_s16(out / DIALOGUE, np.concatenate(pieces), DIALOGUE_RATE)
    return out


def main(argv: Sequence[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tests.datagen OUT_DIR", file=sys.stderr)
        return 2
    started = time.perf_counter()
    try:
        out = build(SHIPPED_DIR, Path(argv[0]))
    except TestDataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    seconds = time.perf_counter() - started
    print(f"{out}: {len(SHIPPED)} shipped + {len(GENERATED)} generated in {seconds:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
