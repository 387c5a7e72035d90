"""Helpers shared by the renderer and replay tests (this module holds no tests itself).

Golden files live in tests/golden/. To regenerate them after an intended change of output::

    UPDATE_GOLDEN=1 /work/venv/bin/pytest tests/test_render_*.py tests/test_replay.py

then review the diff of tests/golden/ before committing.

Fixtures: ``tests/golden/stream.jsonl`` (a StreamAudio run with both levels, an unknown task
``sarcasm`` whose label has a comma and quotes, a unicode label ``ñandú 😀``, posteriors
``"1e-04"``, ``""`` and ``"nan"``, a start time ``"abc"``, a result without level, a
``features`` result with an empty label and an embedding, and an empty result list) and
``tests/golden/deepfake.jsonl`` (a DeepfakeDetection run, spoofed dominant). Both are exactly
what ``JsonlSink`` writes.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

from rich.console import Console, RenderableType

from bsstream.protocol.results import ResultMessage, message_from_dict

GOLDEN = Path(__file__).resolve().parent / "golden"
STREAM = GOLDEN / "stream.jsonl"
DEEPFAKE = GOLDEN / "deepfake.jsonl"


def load_messages(path: Path) -> list[ResultMessage]:
    return [
        message_from_dict(json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines() if line
    ]


def capture_console(*, width: int = 100, height: int = 25) -> Console:
    """A fixed-width colourless console writing into a StringIO (read with ``output(c)``)."""
    return Console(
        file=io.StringIO(),
        width=width,
        height=height,
        color_system=None,
        force_terminal=False,
        record=True,
        legacy_windows=False,
    )


def output(console: Console) -> str:
    file = console.file
    assert isinstance(file, io.StringIO)
    return file.getvalue()


def render(renderable: RenderableType, *, width: int = 100) -> str:
    console = capture_console(width=width)
    console.print(renderable)
    return output(console)


def assert_golden(name: str, text: str) -> None:
    """Compare ``text`` with tests/golden/<name>; UPDATE_GOLDEN=1 rewrites the file instead."""
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8", newline="")
        return
    assert path.exists(), f"{path} missing: run with UPDATE_GOLDEN=1 to create it"
    expected = path.read_text(encoding="utf-8")
    assert text == expected, f"output differs from {path} (UPDATE_GOLDEN=1 regenerates)"


class FlushRecorder(io.StringIO):
    """A text stream that records what had been written at each flush."""

    def __init__(self) -> None:
        super().__init__()
        self.flushed: list[str] = []

    def flush(self) -> None:
        super().flush()
        self.flushed.append(self.getvalue())


class BrokenPipeStream(io.StringIO):
    """A stream whose reader went away (``| head``)."""

    def write(self, s: Any) -> int:
        raise BrokenPipeError(32, "Broken pipe")
