"""The pure table builders: golden text with a 100-column colourless console, plus properties
(exact text under colour, markup never interpreted, the live tail and its caption).

Regenerate the golden files with UPDATE_GOLDEN=1 (see tests/test_render_support.py).
"""

from __future__ import annotations

import io
import re

from rich.console import Console

from bsstream.protocol.results import Prediction, Result, ResultMessage
from bsstream.protocol.summary import summarize
from bsstream.protocol.timeline import Cell, Timeline
from bsstream.render.table import (
    PALETTE,
    build_summary_table,
    build_table,
    cell_text,
    label_style,
    verdict_line,
)
from tests.test_render_support import DEEPFAKE, STREAM, assert_golden, load_messages, render


def timeline_of(messages: list[ResultMessage]) -> Timeline:
    t = Timeline()
    for m in messages:
        t.add(m)
    return t


def test_table_golden() -> None:
    assert_golden("table_stream.txt", render(build_table(timeline_of(load_messages(STREAM)))))


def test_table_tail_golden() -> None:
    text = render(build_table(timeline_of(load_messages(STREAM)), max_rows=2))
    assert "3 earlier rows hidden" in text
    assert_golden("table_stream_tail.txt", text)


def test_table_with_source_and_title_golden() -> None:
    messages = load_messages(STREAM)[:2] + load_messages(DEEPFAKE)[:1]
    table = build_table(timeline_of(messages), width=100, show_source=True, title="two inputs")
    assert_golden("table_sources.txt", render(table))


def test_summary_table_golden() -> None:
    summary = summarize(load_messages(STREAM))
    assert_golden("summary_stream.txt", render(build_summary_table(summary)))


def test_deepfake_summary_and_verdict_golden() -> None:
    summary = summarize(load_messages(DEEPFAKE))
    line = verdict_line(summary)
    assert line == "Deepfake verdict: SPOOFED — 78% of speech, confidence 0.91"
    assert_golden("summary_deepfake.txt", render(build_summary_table(summary)) + line + "\n")


def test_table_content() -> None:
    text = render(build_table(timeline_of(load_messages(STREAM))))
    header = text.splitlines()[0].split()
    # features (an embedding only) has a column only when embeddings were asked for
    assert header == ["time", "lvl", "gender", "age", "emotion", "sarcasm"]
    assert "0.00-2.00" in text and "male 1.00" in text and "31 - 45 1.00" in text
    assert "ñandú 😀 0.00" in text  # "1e-04" with two decimals
    assert "female " in text and "female 0." not in text  # posterior "" -> label alone
    assert "abc-4.00" in text  # an unparseable time shows as sent
    assert "neutral 0." not in text.split(" utt ")[1].splitlines()[0]  # "nan" -> label alone
    with_embeddings = render(build_table(timeline_of(load_messages(STREAM)), embeddings=True))
    assert with_embeddings.splitlines()[0].split()[-1] == "features"
    assert "2-d" in with_embeddings  # the embedding "[0.1, -0.2]" as its dimension count


def test_no_max_rows_shows_every_row_and_no_caption() -> None:
    table = build_table(timeline_of(load_messages(STREAM)))
    assert table.row_count == 5 and table.caption is None
    assert build_table(timeline_of(load_messages(STREAM)), max_rows=10).caption is None
    one = build_table(timeline_of(load_messages(STREAM)), max_rows=4)
    assert (
        one.row_count == 4 and one.caption is not None and str(one.caption).startswith("1 earlier row hidden")
    )


def test_empty_timeline() -> None:
    text = render(build_table(Timeline()))
    assert text.split() == ["time", "lvl", "─" * len(text.splitlines()[1].strip())]


def test_markup_in_strings_is_not_interpreted_and_controls_are_escaped() -> None:
    r = Result(
        id="1",
        start_time="0",
        end_time="1",
        task="[bold]task[/bold]",
        predictions=(Prediction("[red]x\x1b[31m", "0.5"),),
        final_label="[red]x\x1b[31m",
        level="segment",
    )
    t = Timeline()
    t.add(ResultMessage(1, 1, 0, (r,)))
    text = render(build_table(t), width=120)
    assert "[bold]task[/bold]" in text
    assert "[red]x\\x1b[31m 0.50" in text
    assert "\x1b" not in text


def test_colour_never_changes_the_text() -> None:
    table = build_table(timeline_of(load_messages(STREAM)))
    plain = render(table)
    buf = io.StringIO()
    Console(file=buf, width=100, color_system="truecolor", force_terminal=True, legacy_windows=False).print(
        table
    )
    coloured = buf.getvalue()
    assert "\x1b[" in coloured
    # Strip the colour/style (SGR) sequences here rather than with Text.from_ansi, which drops
    # the final newline before rich 15: the comparison stays exact on every supported rich.
    stripped = re.sub(r"\x1b\[[0-9;]*m", "", coloured)
    assert "\x1b" not in stripped
    assert stripped == plain


def test_label_style_is_stable_and_in_palette() -> None:
    assert label_style("neutral") == label_style("neutral")
    assert label_style("neutral") in PALETTE
    assert label_style("\ud800") in PALETTE  # a lone surrogate does not crash the hash
    styles = {
        label_style(x) for x in ["happy", "angry", "neutral", "sad", "male", "female", "bonafide", "spoofed"]
    }
    assert len(styles) > 2


def test_cell_text() -> None:
    assert cell_text(None).plain == ""
    assert cell_text(Cell("neutral", 0.7, "0.7")).plain == "neutral 0.70"
    assert cell_text(Cell("neutral", None, "nan")).plain == "neutral"
    assert cell_text(Cell("", 0.5, "0.5")).plain == "0.50"


def test_verdict_line_forms() -> None:
    assert verdict_line(summarize(load_messages(STREAM))) is None
    r = Result(id="1", start_time="", end_time="", task="deepfake", final_label="Synthetic-β")
    assert (
        verdict_line(summarize([ResultMessage(1, 1, 0, (r,))]))
        == "Deepfake verdict: SYNTHETIC-Β — 100% of results"
    )
