"""--channels split in every output: the live table's channel column (golden screens), the
summary per channel, the verdict per channel, CSV's channel columns, --stats per channel and
the --fail-on channel qualifier (grammar, pure evaluation, CLI).

tests/golden/screens/split.jsonl is ``bsstream scan --local --json --channels split
--channel-names agent,customer call.wav`` where call.wav is 12 s of stereo: channel 0 the first
12 s of tests/data/10_voxconverse_aepyx_8k_mono_s16_169s.wav (a man), channel 1
tests/data/12_tts_orca_en_female_22k_mono_s16.wav (a TTS voice, 2.2 s, then silence). Regenerate
the golden screens with UPDATE_GOLDEN=1.
"""

from __future__ import annotations

import csv
import io
import json

import pytest
from rich.cells import cell_len

from bsstream.batch.failon import (
    FailOn,
    check_channels,
    find_matches,
    format_match,
    message_matches,
    parse_fail_on,
)
from bsstream.protocol.results import Prediction, Result, ResultMessage
from bsstream.protocol.summary import summarize
from bsstream.protocol.timeline import Timeline
from bsstream.render.summary import summary_lines, summary_to_dict, verdict_line, verdict_lines
from bsstream.render.table import build_table, plan_layout
from bsstream.render.view import now_lines
from bsstream.status import UsageError
from tests.clirun import bsstream
from tests.test_live_view import HEIGHT, end_screen, groups, live_frame
from tests.test_render_support import assert_golden, capture_console, output

TWO = "g_two_speakers_8k_stereo_mulaw.wav"  # ch0: p286 (male), ch1: Orca TTS (female)
NAMES = ("--channel-names", "agent,customer")


def lines_of(out: str) -> list[dict]:
    return [json.loads(x) for x in out.splitlines()]


# -- the live table and the summary ----------------------------------------------------------


@pytest.mark.parametrize("width", [60, 80, 120])
def test_split_golden_screens(width: int) -> None:
    group = groups("split")[0]
    upto = max(len(group.messages) * 2 // 3, 1)
    frame = live_frame(group, upto, width=width, height=HEIGHT)
    end = end_screen("split", width)
    text = (
        f"--- live view, {width}x{HEIGHT}, after {upto} of {len(group.messages)} messages ---\n"
        f"{frame}--- when the stream ends ---\n{end}"
    )
    for line in text.splitlines():
        assert cell_len(line) <= width, line
    assert_golden(f"screens/split_{width}.txt", text)
    # the channel column, a row per channel for the same window, a summary and verdict per channel
    assert end.splitlines()[0].startswith("channel ")
    rows = [x.split()[0] for x in end.splitlines() if x.startswith(("agent ", "customer "))]
    assert {"agent", "customer"} <= set(rows)
    assert "Deepfake verdict [agent]: BONAFIDE" in end.replace("\n", " ")
    assert "Deepfake verdict [customer]: SPOOFED" in end.replace("\n", " ")
    assert "Deepfake verdict:" not in end


def test_the_same_window_of_two_channels_is_two_rows() -> None:
    def message(channel: int, label: str) -> ResultMessage:
        r = Result("0", "0.00", "2.00", "gender", (Prediction(label, "0.9"),), label, level="segment")
        return ResultMessage(1, 1, 0, (r,), source="call.wav", channel=channel, channel_name=None)

    t = Timeline()
    t.add(message(0, "male"))
    t.add(message(1, "female"))
    assert [(row.channel, row.cells["gender"].label) for row in t.rows] == [
        ("ch0", "male"),
        ("ch1", "female"),
    ]
    assert t.channels == ["ch0", "ch1"]
    assert t.now("gender", "ch0").label == "male" and t.now("gender", "ch1").label == "female"
    assert plan_layout(t, 80).channel_width == 3
    console = capture_console(width=80)
    console.print(build_table(t, width=80))
    text = output(console)
    assert text.splitlines()[0].split()[:2] == ["ch", "time"]
    assert "ch0  0.00-2.00" in text and "ch1  0.00-2.00" in text
    now = [line.plain for line in now_lines(t, 80)]
    assert now[0].startswith("ch0") and "male" in now[0] and now[1].startswith("ch1") and "female" in now[1]


def test_a_mixed_stream_has_no_channel_column() -> None:
    r = Result("0", "0.00", "2.00", "gender", (Prediction("male", "0.9"),), "male", level="segment")
    t = Timeline()
    t.add(ResultMessage(1, 1, 0, (r,), source="call.wav"))
    assert not t.channels and plan_layout(t, 80).channel_width == 0


def test_summary_per_channel_from_results() -> None:
    """What replay and the exports rebuild from saved results: one entry per task and channel."""
    messages = groups("split")[0].messages
    summary = summarize(messages)
    assert summary.split and summary.verdict is None
    assert [(t.channel_label, t.label) for t in summary.verdicts] == [
        ("agent", "bonafide"),
        ("customer", "spoofed"),
    ]
    assert [t.channel for t in summary.tasks] == sorted(t.channel for t in summary.tasks)
    assert summary.get("gender", 0).label == "male" and summary.get("gender", 1).label == "female"
    lines = summary_lines(summary)
    assert "summary gender [agent] male 100% confidence 0.87 level utterance" in lines
    assert lines[-2:] == [
        "Deepfake verdict [agent]: BONAFIDE — 100% of speech, confidence 0.78",
        "Deepfake verdict [customer]: SPOOFED — 100% of speech, confidence 0.83",
    ]
    assert verdict_line(summary) is None and len(verdict_lines(summary)) == 2
    doc = summary_to_dict(summary)
    assert doc["verdict"] is None
    assert {(t["task"], t["channel"], t["channel_name"]) for t in doc["tasks"]} >= {
        ("gender", 0, "agent"),
        ("gender", 1, "customer"),
    }
    mixed = summarize([m for m in messages if m.channel == 0][:1])
    assert "channel" not in summary_to_dict(mixed)["tasks"][0] or mixed.split


def test_split_summary_and_stats_lines_at_the_cli(testdata) -> None:
    r = bsstream("scan", "--local", "--stats", "--channels", "split", *NAMES, str(testdata / TWO))
    assert r.code == 0, r.err
    channels = [x.split()[2] for x in r.out.splitlines() if x.startswith("summary")]
    assert len(channels) == 22 and channels == ["[agent]"] * 11 + ["[customer]"] * 11  # in channel order
    verdicts = [x for x in r.out.splitlines() if x.startswith("Deepfake verdict")]
    assert [x.split(":")[0] for x in verdicts] == ["Deepfake verdict [agent]", "Deepfake verdict [customer]"]
    stats = [x for x in r.err.splitlines() if x.startswith("stats ")]
    assert len(stats) == 4  # channels x methods
    assert {x.split()[2] for x in stats} == {"[agent]", "[customer]"}
    assert all("(StreamAudio)" in x or "(DeepfakeDetection)" in x for x in stats)


# -- CSV ---------------------------------------------------------------------------------------


def test_csv_has_channel_columns_only_with_split(testdata, tmp_path) -> None:
    split_csv, mix_csv = tmp_path / "split.csv", tmp_path / "mix.csv"
    names = ("--channel-names", "=agent,customer")  # a name a spreadsheet would run
    r = bsstream(
        "analyze", "--local", "-q", "--channels", "split", *names, "--output", str(split_csv),
        str(testdata / TWO),
    )  # fmt: skip
    assert r.code == 0, r.err
    rows = list(csv.reader(io.StringIO(split_csv.read_text(encoding="utf-8"))))
    assert rows[0][:4] == ["source", "channel", "channel_name", "level"]
    assert {(row[1], row[2]) for row in rows[1:]} == {("0", "'=agent"), ("1", "customer")}
    gender = {row[1]: row[7] for row in rows[1:] if row[6] == "gender" and row[3] == "utterance"}
    assert gender == {"0": "male", "1": "female"}
    r = bsstream("analyze", "--local", "-q", "--output", str(mix_csv), str(testdata / TWO))
    assert r.code == 0, r.err
    assert mix_csv.read_text(encoding="utf-8").splitlines()[0].startswith("source,level,start,")


# -- HTML ----------------------------------------------------------------------------------------


def test_html_summary_has_a_channel_column_and_a_verdict_per_channel(testdata, tmp_path) -> None:
    import re

    report = tmp_path / "call.html"
    r = bsstream(
        "scan", "--local", "-q", "--channels", "split", *NAMES, "--no-embed-audio",
        "--output", str(report), str(testdata / TWO),
    )  # fmt: skip
    assert r.code == 0, r.err
    page = report.read_text(encoding="utf-8")
    banners = re.findall(r'<div class="v-title">([^<]*)</div><div class="v-label">([^<]*)</div>', page)
    assert [title for title, _ in banners] == ["Deepfake verdict · agent", "Deepfake verdict · customer"]
    assert all(label in ("bonafide", "spoofed") for _, label in banners)
    tables = re.findall(r'<table class="summary">(.*?)</table>', page, re.S)
    assert tables and all("<th>Channel</th><th>Task</th>" in t for t in tables)
    rows = re.findall(
        r'<tr><td data-th="Channel">([^<]*)</td><td data-th="Task">([^<]*)</td>'
        r'<td data-th="Level">[^<]*</td><td data-th="Dominant"><span[^>]*></span>([^<]*)</td>',
        "".join(tables),
    )
    gender = {channel: label for channel, task, label in rows if task == "gender"}
    assert gender == {"agent": "male", "customer": "female"}  # each channel its own speaker, named
    assert {channel for channel, _, _ in rows} == {"agent", "customer"}
    mixed = tmp_path / "mixed.html"
    r = bsstream("deepfake", "--local", "-q", "--no-embed-audio", "--output", str(mixed), str(testdata / TWO))
    assert r.code == 0, r.err
    page = mixed.read_text(encoding="utf-8")
    assert "<th>Channel</th>" not in page and page.count('<div class="v-title">Deepfake verdict</div>') == 1


def test_json_document_tags_every_result_and_summary_entry_with_the_channel(testdata, tmp_path) -> None:
    doc_path = tmp_path / "call.json"
    r = bsstream(
        "analyze", "--local", "-q", "--channels", "split", *NAMES,
        "--output", str(doc_path), str(testdata / TWO),
    )  # fmt: skip
    assert r.code == 0, r.err
    doc = json.loads(doc_path.read_text(encoding="utf-8"))
    assert doc["results"] and doc["summary"]["tasks"]
    assert {(m["channel"], m["channel_name"]) for m in doc["results"]} == {(0, "agent"), (1, "customer")}
    tasks = {(t["task"], t["channel_name"]): t["label"] for t in doc["summary"]["tasks"]}
    assert tasks[("gender", "agent")] == "male" and tasks[("gender", "customer")] == "female"
    assert doc["summary"]["verdict"] is None  # one per channel, in tasks, not one for both


# -- --fail-on CHANNEL: ----------------------------------------------------------------------------


def test_parse_channel_qualifier() -> None:
    assert parse_fail_on("agent:emotion=angry>0.8") == FailOn(
        "agent:emotion=angry>0.8", "emotion", "angry", 0.8, inclusive=False, channel="agent"
    )
    assert parse_fail_on(" 1 : emotion = angry >= 0.5 @utterance").channel == "1"
    rule = parse_fail_on("ch1:age=a:b=c>0.5")  # the label may hold ':' and '=' still
    assert (rule.channel, rule.task, rule.label) == ("ch1", "age", "a:b=c")
    assert parse_fail_on("emotion=angry>0.8").channel is None
    with pytest.raises(UsageError, match="missing CHANNEL before ':'"):
        parse_fail_on(":emotion=angry>0.8")
    with pytest.raises(UsageError) as err:
        parse_fail_on("agent:emotion=angry")
    assert "[CHANNEL:]TASK=LABEL>=THRESHOLD[@LEVEL]" in err.value.line()


def test_channel_references_are_checked_before_the_run() -> None:
    rules = [parse_fail_on("agent:emotion=angry>0.8"), parse_fail_on("1:emotion=angry>0.8")]
    check_channels(rules, split=True, names=["agent", "customer"])
    check_channels([parse_fail_on("ch3:x=y>0.1")], split=True, names=[])
    with pytest.raises(UsageError, match="needs --channels split"):
        check_channels(rules, split=False, names=[])
    with pytest.raises(UsageError, match="no channel 'agnt'"):
        check_channels([parse_fail_on("agnt:emotion=angry>0.8")], split=True, names=["agent", "customer"])


def _message(channel: int | None, name: str | None, posterior: str) -> ResultMessage:
    r = Result(
        "0", "1.00", "3.00", "emotion",
        (Prediction("angry", posterior), Prediction("neutral", "0.1")), "angry", level="utterance",
    )  # fmt: skip
    return ResultMessage(1, 1, 0, (r,), source="call.wav", channel=channel, channel_name=name)


def test_pure_evaluation_by_channel() -> None:
    messages = [_message(0, "agent", "0.9"), _message(1, "customer", "0.95"), _message(None, None, "0.99")]
    by_name = find_matches([parse_fail_on("Customer:emotion=angry>0.8")], messages)
    assert [(m.channel, m.channel_name) for m in by_name] == [(1, "customer")]
    assert [m.channel for m in find_matches([parse_fail_on("0:emotion=angry>0.8")], messages)] == [0]
    assert [m.channel for m in find_matches([parse_fail_on("ch1:emotion=angry>0.8")], messages)] == [1]
    assert len(find_matches([parse_fail_on("emotion=angry>0.8")], messages)) == 3  # every channel
    assert find_matches([parse_fail_on("agent:emotion=angry>0.95")], messages) == []
    assert message_matches([parse_fail_on("1:emotion=angry>0.8")], messages[2]) == []  # mixed: none
    line = format_match(by_name[0])
    assert line == (
        "fail-on match: call.wav [customer] 1.00-3.00 s (utterance) "
        "Customer:emotion=angry>0.8, posterior 0.95"
    )


def test_fail_on_a_channel_at_the_cli(testdata) -> None:
    path = str(testdata / TWO)
    split = ("analyze", "--local", "--json", "--channels", "split", *NAMES, path)
    hit = bsstream(*split, "--fail-on", "customer:gender=female>=0.5")
    assert hit.code == 10, hit.err
    matches = [x for x in hit.err.splitlines() if x.startswith("fail-on match")]
    assert matches and all(" [customer] " in x for x in matches)
    miss = bsstream(*split, "--fail-on", "agent:gender=female>=0.5")
    assert miss.code == 0 and "fail-on match" not in miss.err
    assert bsstream(*split, "--fail-on", "1:gender=female>=0.5").code == 10
    bad = bsstream(*split, "--fail-on", "agnt:gender=female>=0.5")
    assert bad.code == 2 and "no channel 'agnt'" in bad.err
    mixed = bsstream("analyze", "--local", "--json", path, "--fail-on", "agent:gender=female>=0.5")
    assert mixed.code == 2 and "needs --channels split" in mixed.err


# -- with scan and --jobs ------------------------------------------------------------------------


def test_split_with_scan_and_jobs(testdata, tmp_path) -> None:
    """Two inputs at once (--jobs 2), each split, each channel to both methods: the stereo
    input gives channels x methods calls, the mono one a single channel; one stream and one
    end line per input, its summary per channel."""
    stereo, mono = str(testdata / TWO), str(testdata / "01_jfk_16k_mono_s16.wav")
    out = tmp_path / "r.csv"
    r = bsstream(
        "scan", "--local", "--json", "--jobs", "2", "--channels", "split", "--output", str(out), stereo, mono
    )
    assert r.code == 0, r.err
    lines = lines_of(r.out)
    calls = {(x["source"], x["channel"], x["method"]) for x in lines if "result" in x}
    methods = ("StreamAudio", "DeepfakeDetection")
    assert calls == {(stereo, c, m) for c in (0, 1) for m in methods} | {(mono, 0, m) for m in methods}
    assert sorted(x["source"] for x in lines if "stream" in x) == sorted([stereo, mono])
    ends = {x["source"]: x["end"] for x in lines if "end" in x}
    assert set(ends) == {stereo, mono} and all(e["status"] == 0 for e in ends.values())
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert rows[0][1:3] == ["channel", "channel_name"]
    assert {(row[0], row[1]) for row in rows[1:]} == {(stereo, "0"), (stereo, "1"), (mono, "0")}
