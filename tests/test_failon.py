"""batch.failon: the --fail-on grammar, matching at both levels, the sink and its stderr line."""

from __future__ import annotations

import pytest

from bsstream.batch.failon import (
    FailOn,
    FailOnSink,
    Match,
    apply_matches,
    format_match,
    parse_fail_on,
    parse_fail_ons,
)
from bsstream.protocol.results import Prediction, Result, ResultMessage
from bsstream.protocol.stream import StreamInfo, StreamOutcome
from bsstream.status import ExitStatus, UsageError


def result(
    task: str,
    preds: dict[str, str | None],
    *,
    final: str | None = None,
    level: str | None = "segment",
    start: str = "0.00",
    end: str = "2.00",
) -> Result:
    predictions = tuple(Prediction(label, posterior) for label, posterior in preds.items())
    return Result(
        id="1",
        start_time=start,
        end_time=end,
        task=task,
        predictions=predictions,
        final_label=final if final is not None else next(iter(preds)),
        level=level,
    )


# -- grammar -----------------------------------------------------------------------------


def test_parse_valid_expressions() -> None:
    assert parse_fail_on("deepfake=spoofed>=0.8") == FailOn(
        "deepfake=spoofed>=0.8", "deepfake", "spoofed", 0.8, inclusive=True, level=None
    )
    assert parse_fail_on("emotion=angry>=0.6@utterance") == FailOn(
        "emotion=angry>=0.6@utterance", "emotion", "angry", 0.6, inclusive=True, level="utterance"
    )
    assert parse_fail_on("age=18 - 22>0.5") == FailOn(
        "age=18 - 22>0.5", "age", "18 - 22", 0.5, inclusive=False, level=None
    )


@pytest.mark.parametrize(
    ("expr", "task", "label", "threshold", "inclusive", "level"),
    [
        (" emotion = angry >= 0.6 @ Segment ", "emotion", "angry", 0.6, True, "segment"),
        ("age=<=18>=.5", "age", "<=18", 0.5, True, None),  # '=' in a label: the first '=' splits
        ("x=a>b>0", "x", "a>b", 0.0, False, None),  # '>' in a label: the last '>' compares
        ("x=a>>=1", "x", "a>", 1.0, True, None),
        ("task=lab=el>=8e-1", "task", "lab=el", 0.8, True, None),
        ("deepfake=spoofed>=1@segment", "deepfake", "spoofed", 1.0, True, "segment"),
    ],
)
def test_parse_robust_splitting(
    expr: str, task: str, label: str, threshold: float, inclusive: bool, level: str | None
) -> None:
    rule = parse_fail_on(expr)
    assert (rule.task, rule.label, rule.threshold, rule.inclusive, rule.level) == (
        task,
        label,
        threshold,
        inclusive,
        level,
    )
    assert rule.text == expr


@pytest.mark.parametrize(
    ("expr", "problem"),
    [
        ("emotion=angry", "--fail-on 'emotion=angry': missing '>=THRESHOLD'"),
        ("emotion", "missing '=' between TASK and LABEL"),
        ("emotionangry>=0.6", "missing '=' between TASK and LABEL"),
        ("=angry>=0.6", "missing TASK before '='"),
        ("emotion=>=0.6", "missing LABEL after '='"),
        ("emotion=angry>=", "missing THRESHOLD after '>='"),
        ("emotion=angry> @segment", "missing THRESHOLD after '>'"),
        ("emotion=angry>=1.5", "threshold 1.5 is outside 0..1"),
        ("emotion=angry>=-0.1", "threshold -0.1 is outside 0..1"),
        ("emotion=angry>=abc", "threshold 'abc' is not a number"),
        ("emotion=angry>=nan", "threshold 'nan' is not a number"),
        ("emotion=angry>=inf", "threshold 'inf' is not a number"),
        ("emotion=angry>=0.6@word", "unknown level 'word' (segment or utterance)"),
        ("emotion=angry>=0.6@", "missing LEVEL after '@'"),
        ("emotion=angry>=0.6@segment@utterance", "unknown level 'segment@utterance'"),
    ],
)
def test_parse_malformed_names_the_problem(expr: str, problem: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_fail_on(expr)
    err = info.value
    assert problem in err.message
    assert err.message.startswith(f"--fail-on '{expr}': ")
    assert err.exit_status == ExitStatus.USAGE == 2
    assert "TASK=LABEL>=THRESHOLD[@LEVEL]" in err.line()


def test_parse_many_stops_at_the_first_bad_one() -> None:
    assert len(parse_fail_ons(["a=b>=0.5", "c=d>0.1@segment"])) == 2
    with pytest.raises(UsageError, match="'c=d'"):
        parse_fail_ons(["a=b>=0.5", "c=d"])


# -- matching ----------------------------------------------------------------------------


def test_matches_task_label_and_threshold() -> None:
    rule = parse_fail_on("emotion=angry>=0.6")
    assert rule.matches(result("emotion", {"angry": "0.6", "neutral": "0.4"})) == 0.6
    assert rule.matches(result("emotion", {"angry": "0.59", "neutral": "0.41"})) is None
    assert rule.matches(result("gender", {"angry": "0.9"})) is None
    strict = parse_fail_on("emotion=angry>0.6")
    assert strict.matches(result("emotion", {"angry": "0.6"})) is None
    assert strict.matches(result("emotion", {"angry": "0.61"})) == 0.61


def test_posterior_of_a_non_final_label_counts() -> None:
    rule = parse_fail_on("emotion=angry>=0.3")
    r = result("emotion", {"neutral": "0.6", "angry": "0.35", "happy": "0.05"}, final="neutral")
    assert r.final_label == "neutral"
    assert rule.matches(r) == 0.35


def test_matching_is_case_insensitive_and_labels_with_spaces_work() -> None:
    assert parse_fail_on("Deepfake=SPOOFED>=0.8").matches(result("deepfake", {"spoofed": "0.81"})) == 0.81
    age = parse_fail_on("age=18 - 22>0.5")
    assert age.matches(result("age", {"18 - 22": "0.7", "23 - 30": "0.3"})) == 0.7


@pytest.mark.parametrize("level", ["segment", "utterance"])
def test_level_must_match_when_given(level: str) -> None:
    rule = parse_fail_on(f"emotion=angry>=0.6@{level}")
    other = "utterance" if level == "segment" else "segment"
    assert rule.matches(result("emotion", {"angry": "0.9"}, level=level)) == 0.9
    assert rule.matches(result("emotion", {"angry": "0.9"}, level=other)) is None
    assert rule.matches(result("emotion", {"angry": "0.9"}, level=None)) is None
    any_level = parse_fail_on("emotion=angry>=0.6")
    assert any_level.matches(result("emotion", {"angry": "0.9"}, level=other)) == 0.9
    assert any_level.matches(result("emotion", {"angry": "0.9"}, level=None)) == 0.9


@pytest.mark.parametrize("posterior", ["1e-04", "", "nan", "inf", "-inf", "abc", None, "  "])
def test_odd_posteriors_never_match_nor_crash(posterior: str | None) -> None:
    rule = parse_fail_on("emotion=angry>=0.5")
    assert rule.matches(result("emotion", {"angry": posterior, "neutral": "0.9"})) is None


def test_lenient_numbers_still_parse() -> None:
    rule = parse_fail_on("emotion=angry>=0.5")
    assert rule.matches(result("emotion", {"angry": " 0,75 "})) == 0.75
    assert rule.matches(result("emotion", {"angry": "9.9e-01"})) == 0.99


# -- the sink ----------------------------------------------------------------------------


def message(source: str, *results: Result) -> ResultMessage:
    return ResultMessage(cid=1, pid=2, message_id=0, results=results, source=source)


def test_sink_records_every_match_and_calls_back() -> None:
    seen: list[Match] = []
    rules = parse_fail_ons(["emotion=angry>=0.6@utterance", "deepfake=spoofed>=0.8"])
    sink = FailOnSink(rules, seen.append)
    info = StreamInfo(source="a.wav", method="StreamAudio")
    sink.begin(info)
    assert not sink.matched
    sink.message(message("a.wav", result("emotion", {"angry": "0.7"}, level="segment")))
    assert not sink.matched
    sink.message(
        message(
            "a.wav",
            result("emotion", {"neutral": "0.2", "angry": "0.7"}, final="neutral", level="utterance",
                   start="1.5", end="4"),
            result("gender", {"male": "0.9"}),
        )
    )  # fmt: skip
    sink.message(message("b.wav", result("deepfake", {"spoofed": "0.95"}, start="0", end="3.25")))
    sink.end(info, StreamOutcome(status=0))
    sink.close()
    assert sink.matched
    assert sink.matches == seen
    assert seen == [
        Match("a.wav", "emotion=angry>=0.6@utterance", "1.5", "4", "utterance", 0.7),
        Match("b.wav", "deepfake=spoofed>=0.8", "0", "3.25", "segment", 0.95),
    ]
    assert sink.matched_source("a.wav") and sink.matched_source("b.wav")
    assert not sink.matched_source("c.wav")


def test_sink_without_callback_or_rules() -> None:
    sink = FailOnSink([])
    sink.message(message("a.wav", result("emotion", {"angry": "1"})))
    assert not sink.matched and sink.matches == []
    sink = FailOnSink(parse_fail_ons(["emotion=angry>=0.5"]))
    sink.message(message("a.wav", result("emotion", {"angry": "1"})))
    assert sink.matched


def test_format_match() -> None:
    m = Match("calls/a.wav", "emotion=angry>=0.6@utterance", "12", "14.5", "utterance", 0.7123456)
    assert format_match(m) == (
        "fail-on match: calls/a.wav 12.00-14.50 s (utterance) emotion=angry>=0.6@utterance, posterior 0.7123"
    )
    odd = Match("a\x1b.wav", "deepfake=spoofed>=0.8", "", "x", None, 1.0)
    assert format_match(odd) == "fail-on match: a\\x1b.wav ?-x s deepfake=spoofed>=0.8, posterior 1"


def test_apply_matches() -> None:
    assert apply_matches(0, True) == ExitStatus.FAIL_ON_MATCH == 10
    assert apply_matches(0, False) == 0
    assert apply_matches(4, True) == 4
    assert apply_matches(130, True) == 130
