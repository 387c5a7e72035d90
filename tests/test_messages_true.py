"""Messages only when true: the emulator note only once something streams, no empty plain lines,
and one documented rule for the summary's level (ties go to utterance), wherever it shows.
(The "interrupted" line naming only written files: tests/test_batch_interrupt.py and the
FIFO test of tests/test_bad_input_corpus.py.)"""

from __future__ import annotations

import io
import json
from pathlib import Path

from bsstream.protocol.results import Result, ResultMessage
from bsstream.protocol.stream import StreamInfo, StreamOutcome
from bsstream.protocol.summary import SummaryBuilder
from bsstream.render.plain import PlainSink, embedding_size
from bsstream.render.summary import summary_lines, summary_to_dict
from tests.clirun import bsstream

NOTE = "note: results from the local emulator, not Behavioral Signals models"


# --- the emulator note ----------------------------------------------------------------------


def test_no_emulator_note_when_nothing_streams(tmp_path: Path) -> None:
    r = bsstream("analyze", "--local", str(tmp_path / "missing.wav"))
    assert r.code == 4
    assert NOTE not in r.err
    assert r.err.strip().splitlines() == [f"error: {tmp_path / 'missing.wav'}: no such file (check the path)"]


def test_emulator_note_once_with_the_results(testdata: Path) -> None:
    jfk = str(testdata / "01_jfk_16k_mono_s16.wav")
    r = bsstream("analyze", "--local", "--json", jfk, jfk.replace("01_jfk", "nope"))
    assert r.code == 4  # the missing one
    assert r.err.count(NOTE) == 1
    assert r.out  # the results it came with


# --- plain lines ----------------------------------------------------------------------------


def _result(task: str, label: str = "", posterior: str | None = None, **kw: object) -> Result:
    from bsstream.protocol.results import Prediction

    predictions = (Prediction(label, posterior),) if label else ()
    return Result("1", "0.00", "2.00", task, predictions, label, level="segment", **kw)  # type: ignore[arg-type]


def test_plain_lines_skip_results_with_nothing_to_show() -> None:
    out = io.StringIO()
    sink = PlainSink(out, show_source=False)
    info = StreamInfo(source="x", method="StreamAudio")
    sink.begin(info)
    sink.message(ResultMessage(1, 1, 0, (_result("features"),), source="x"))  # without --embeddings
    assert out.getvalue() == ""  # no line at all, not "0.00-2.00 segment features"
    both = (_result("emotion", "neutral", "0.7"), _result("features", embedding="[0.1, 2, -3e-1]"))
    sink.message(ResultMessage(1, 1, 1, both, source="x"))
    assert out.getvalue().splitlines() == [
        "0.00-2.00 segment emotion neutral 0.70",
        "0.00-2.00 segment features embedding (3 values)",
    ]
    sink.end(info, StreamOutcome(status=0))
    assert "" not in out.getvalue().splitlines()


def test_embedding_size() -> None:
    assert embedding_size("[0.1, -0.2]") == 2
    assert embedding_size("0.1 0.2 0.3") == 3
    assert embedding_size("[]") is None and embedding_size("  ") is None and embedding_size(None) is None


# --- the summary's level --------------------------------------------------------------------


def _level(*results: tuple[str | None, str, str, str]) -> str | None:
    """The level the summary of one task picks for results (level, start, end, label)."""
    builder = SummaryBuilder()
    for i, (level, start, end, label) in enumerate(results):
        builder.add_result(Result(str(i), start, end, "emotion", (), label, level=level))
    (task,) = builder.summary().tasks
    return task.level


def test_equal_time_goes_to_utterance_whatever_the_result_counts() -> None:
    # 3 segments against 1 utterance over the same 6 s: the count plays no part
    segments = [("segment", f"{i * 2}", f"{i * 2 + 2}", "neutral") for i in range(3)]
    assert _level(*segments, ("utterance", "0", "6", "happy")) == "utterance"
    assert _level(("utterance", "0", "6", "happy"), *segments) == "utterance"  # nor the order


def test_float_sums_of_the_same_time_are_a_tie() -> None:
    # 0.1 + 0.1 + 0.1 != 0.3 in floats: still the same time covered
    tenths = [("segment", f"{i / 10:.1f}", f"{(i + 1) / 10:.1f}", "neutral") for i in range(3)]
    assert _level(*tenths, ("utterance", "0.0", "0.3", "happy")) == "utterance"


def test_more_time_wins_and_without_times_more_results() -> None:
    assert _level(("segment", "0", "6.002", "a"), ("utterance", "0", "6", "b")) == "segment"
    no_times = [("segment", "", "", "a"), ("segment", "x", "y", "a"), ("utterance", "", "", "b")]
    assert _level(*no_times) == "segment"
    assert _level(("segment", "", "", "a"), ("utterance", "", "", "b")) == "utterance"
    assert _level((None, "0", "2", "a"), ("segment", "0", "2", "b")) is None  # the level seen first


def test_the_tie_the_emulator_produces_is_utterance_in_plain_lines_and_exports(
    testdata: Path, tmp_path: Path
) -> None:
    """p286 gives segments and utterances covering exactly the same 5.80 s (it used to show
    "segment" here and "utterance" for the other recordings)."""
    wav = str(testdata / "05_vctk_p286_011_48k_mono_s16.wav")
    export = tmp_path / "p286.json"
    r = bsstream("analyze", "--local", wav, "--output", str(export))
    assert r.code == 0, r.err
    summary = [line for line in r.out.splitlines() if line.startswith("summary ")]
    assert summary and all(line.endswith(" level utterance") for line in summary)
    doc = json.loads(export.read_text())
    levels = {t["level"] for t in doc["summary"]["tasks"]}
    assert levels == {"utterance"}
    # and the same Summary renders the same level as plain lines and as JSON
    builder = SummaryBuilder()
    builder.add_result(Result("1", "0", "2", "t", (), "a", level="segment"))
    builder.add_result(Result("2", "0", "2", "t", (), "b", level="utterance"))
    s = builder.summary()
    assert summary_lines(s)[0].endswith("level utterance")
    assert summary_to_dict(s)["tasks"][0]["level"] == "utterance"
