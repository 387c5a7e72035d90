"""Testing your own code with ``bsstream.Emulator``: a real gRPC server on 127.0.0.1, no account.

    pytest examples/test_with_emulator.py

The emulator speaks the service's protocol (results come from simple acoustic heuristics, not
Behavioral Signals models) and can fail on demand (``bsstream.emulator.Faults``), so a test can
check what your code does when the service is unreachable, refuses the key or drops the call.
Below: a function of "your" code, and its tests.
"""

from __future__ import annotations

import wave
from collections.abc import Iterator
from pathlib import Path

import pytest

import bsstream
from bsstream.emulator import Faults

RECORDING = Path(__file__).resolve().parent.parent / "tests" / "data" / "01_jfk_16k_mono_s16.wav"


# ---------------------------------------------------------------- your code


def speaker_gender(path: Path, connection: bsstream.Connection | None = None) -> str | None:
    """The dominant gender label of a recording's utterances (None when there is no speech)."""
    options = bsstream.Options(level="utterance")
    summary = bsstream.summarize(bsstream.analyze(path, options=options, connection=connection))
    gender = summary.get("gender")
    return None if gender is None else gender.label


# ---------------------------------------------------------------- its tests


@pytest.fixture
def emulator() -> Iterator[bsstream.Emulator]:
    with bsstream.Emulator() as emu:
        yield emu


def test_speaker_gender(emulator: bsstream.Emulator) -> None:
    assert speaker_gender(RECORDING, bsstream.Connection.emulator(emulator.address)) == "male"
    (call,) = emulator.calls  # what the server received
    assert call.method == "StreamAudio"
    with wave.open(str(RECORDING)) as wav:
        assert call.total_audio_bytes == wav.getnframes() * 2  # every sample, once


def test_speaker_gender_survives_a_refused_first_connection() -> None:
    with bsstream.Emulator(faults=Faults(refuse_first=1)) as emu:
        assert speaker_gender(RECORDING, bsstream.Connection.emulator(emu.address)) == "male"
        assert len(emu.calls) == 2  # refused, then reconnected


def test_a_wrong_key_is_an_error_not_an_answer() -> None:
    with bsstream.Emulator(cid=7, api_key="right") as emu, pytest.raises(bsstream.BsError) as failure:
        speaker_gender(RECORDING, bsstream.Connection.emulator(emu.address, cid=7, api_key="wrong"))
    assert failure.value.status == bsstream.ExitStatus.AUTH  # exit status 3, as the CLI
