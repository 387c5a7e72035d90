"""The library's examples (examples/*.py) run against the emulator and print what they promise, and
the README's library code is taken from them verbatim (so it is code that runs)."""

from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

import bsstream

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
JFK = ROOT / "tests" / "data" / "01_jfk_16k_mono_s16.wav"  # 11 s, one male speaker


def load(name: str) -> ModuleType:
    """An example as a module (not run as __main__): its functions and its main(argv)."""
    spec = importlib.util.spec_from_file_location(f"bsstream_example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and typing look themselves up here
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def emulator() -> Iterator[bsstream.Emulator]:
    with bsstream.Emulator() as emu:
        yield emu


def test_live_capture_prints_the_results_of_the_captured_audio(capsys: pytest.CaptureFixture[str]) -> None:
    example = load("live_capture")
    # the first 1.2 s of the recording, played at real time by ffmpeg (-re), against the emulator
    assert example.main(["--local", "--seconds", "1.2", str(JFK)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines, "no results printed"
    windows = {line.split()[0] for line in lines}
    tasks = {line.split()[1] for line in lines}
    assert {"gender", "emotion"} <= tasks
    for window in windows:
        start, end = (float(t) for t in window.split("-"))
        assert 0 <= start < end <= 1.3  # nothing beyond the audio captured
    assert any(line.split()[1:] == ["gender", "male"] for line in lines)


def test_live_capture_feeds_the_stream_chunk_by_chunk(emulator: bsstream.Emulator) -> None:
    example = load("live_capture")
    chunks = list(example.capture(["-i", str(JFK)], seconds=1.0))
    assert b"".join(chunks) and all(len(c) == example.CHUNK_BYTES for c in chunks)  # 1 s: 4 whole chunks
    example.watch(iter(chunks), bsstream.Connection.emulator(emulator.address))
    (call,) = emulator.wait_for_calls(1)
    assert call.total_audio_bytes == 32000
    assert call.audio_messages == 4  # one message per chunk the source yielded


def test_asyncio_service_handles_calls_concurrently(emulator: bsstream.Emulator) -> None:
    import asyncio

    example = load("asyncio_service")
    connection = bsstream.Connection.emulator(emulator.address)
    most = 0

    async def run() -> int:
        nonlocal most
        service = asyncio.ensure_future(example.serve(str(JFK), 6, False, connection))
        while not service.done():  # how many calls the server holds at once
            most = max(most, emulator.active_calls)
            await asyncio.sleep(0.002)
        return await service

    assert asyncio.run(run()) == 0
    calls = emulator.wait_for_calls(6)
    assert len(calls) == 6 and all(c.code == "OK" and c.results > 0 for c in calls)
    assert most >= 2, "the calls ran one after another"


def test_asyncio_service_main_prints_a_line_per_call(capsys: pytest.CaptureFixture[str]) -> None:
    example = load("asyncio_service")
    assert example.main(["--local", "--calls", "3", str(JFK)]) == 0
    out, err = capsys.readouterr()
    lines = sorted(out.splitlines())
    assert [line.split(":")[0] for line in lines] == ["call-000", "call-001", "call-002"]
    for line in lines:
        assert re.search(r"\d+ results; ", line) and "gender male" in line, line
    assert "3 of 3 calls analysed" in err


def test_the_emulator_example_tests_pass() -> None:
    example = load("test_with_emulator")
    with bsstream.Emulator() as emu:
        example.test_speaker_gender(emu)
    example.test_speaker_gender_survives_a_refused_first_connection()
    example.test_a_wrong_key_is_an_error_not_an_answer()


# ------------------------------------------------------------------------- the README


def library_section() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"^## Library\n(.*?)(?=^## )", readme, re.MULTILINE | re.DOTALL)
    assert match, "README.md has a ## Library section"
    return match.group(1)


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, re.MULTILINE | re.DOTALL)


def test_readme_library_code_is_taken_from_the_examples() -> None:
    """Each run of non-blank lines in the README's library code appears, verbatim and
    contiguous, in one of the examples (which the tests above run)."""
    blocks = python_blocks(library_section())
    assert len(blocks) >= 3, "a sync, an asyncio and an emulator example"
    sources = {p.name: p.read_text(encoding="utf-8") for p in EXAMPLES.glob("*.py")}
    for block in blocks:
        for part in re.split(r"\n\s*\n", block.strip("\n")):
            assert any(part in source for source in sources.values()), f"not in examples/:\n{part}"


def test_readme_links_every_example_and_the_api_docs() -> None:
    section = library_section()
    for path in EXAMPLES.glob("*.py"):
        assert f"examples/{path.name}" in section
    assert "docs/build.py" in section
