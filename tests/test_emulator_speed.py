"""The emulator must not be the bottleneck: one hour of audio, unpaced, well under a minute.

Slow: run with ``pytest -m slow tests/test_emulator_speed.py -s`` (prints the figure quoted in
the README, "The local emulator"). Pin it to one core with ``taskset -c 0`` to reproduce the one-core number.
"""

from __future__ import annotations

import time
from pathlib import Path

import grpc
import pytest

from bsstream.emulator import Emulator
from tests.test_emulator_support import call, load_wav, stream


@pytest.mark.slow
def test_one_hour_unpaced_under_a_minute(testdata: Path) -> None:
    speech, rate = load_wav(testdata / "01_jfk_16k_mono_s16.wav")
    assert rate == 16000
    hour = 3600 * 32000
    pcm = (speech * (hour // len(speech) + 1))[:hour]
    with Emulator() as emu:
        wall, cpu = time.perf_counter(), time.process_time()
        out = call(emu.address, stream(pcm), timeout=300)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert out.code == grpc.StatusCode.OK
    segments = sum(1 for m in out.responses if m.result[0].level == 0)
    print(
        f"\n1 h of audio, 8000-byte chunks, unpaced: {wall:.1f} s wall, {cpu:.1f} s CPU (client+server), "
        f"{len(out.responses)} result sets ({segments} segments)"
    )
    assert segments > 1000  # about 30 min of the hour is speech at 2 s per segment
    assert wall < 60
