"""``--fail-on``: result-driven exit codes. Pure (no rich, no grpc).

Grammar (one rule per ``--fail-on``; the option is repeatable and any rule matching counts)::

    [CHANNEL:]TASK=LABEL>=THRESHOLD[@LEVEL]
    [CHANNEL:]TASK=LABEL>THRESHOLD[@LEVEL]

How an expression is split, so labels with spaces, dashes or even ``=`` / ``>`` work:

1. the comparison is the LAST ``>`` in the expression (``>=`` when ``=`` follows it);
2. after it: THRESHOLD, then optionally ``@LEVEL``; THRESHOLD is a number in [0, 1]
   (``0.8``, ``.8``, ``1``, ``8e-1``), LEVEL is ``segment`` or ``utterance``;
3. before it: TASK, the FIRST ``=``, then LABEL (task names never contain ``=``, labels may);
4. before that ``=``: an optional CHANNEL qualifier ending at the LAST ``:`` (with
   ``--channels split`` only): a ``--channel-names`` name, a 0-based index (``0``, ``1``)
   or ``ch0``, ``ch1``, ...

Surrounding whitespace of each part is ignored; TASK, LABEL and LEVEL compare
case-insensitively with what the service sends. Examples::

    deepfake=spoofed>=0.8
    emotion=angry>=0.6@utterance
    age=18 - 22>0.5
    'emotion = angry >= 0.6 @ segment'     (spaces are fine; quote for the shell)
    customer:emotion=angry>0.8             (--channels split --channel-names agent,customer)
    1:emotion=angry>0.8                    (the second channel, named or not)

A result matches when its task is TASK, its level is LEVEL (when given; a result without a
level then never matches), and the posterior of LABEL among ALL its predictions (not only the
final label) is >= (or >) THRESHOLD. A posterior that is missing or not a finite number
(``""``, ``"nan"``) never matches. A rule with CHANNEL matches only results of that channel
(a name compares case-insensitively); without one, results of every channel.

The rules are evaluated by pure functions over results (:func:`message_matches`,
:func:`find_matches`), so they can run while streaming (:class:`FailOnSink`) or afterwards
over saved results.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from bsstream.display import display_text, format_time
from bsstream.protocol.jsontypes import JsonObject
from bsstream.protocol.results import Result, ResultMessage, parse_number
from bsstream.protocol.stream import StreamInfo, StreamOutcome
from bsstream.status import ExitStatus, UsageError

__all__ = [
    "LEVELS",
    "FailOn",
    "FailOnSink",
    "Match",
    "apply_matches",
    "check_channels",
    "find_matches",
    "format_match",
    "message_matches",
    "parse_fail_on",
    "parse_fail_ons",
]

LEVELS = ("segment", "utterance")


@dataclass(frozen=True, slots=True)
class FailOn:
    """One parsed ``--fail-on`` rule. ``text`` is the expression as the user gave it."""

    text: str
    task: str
    label: str
    threshold: float
    inclusive: bool = True  # ">=" (True) or ">" (False)
    level: str | None = None  # "segment" | "utterance" | None (any level)
    channel: str | None = None  # CHANNEL: a name, an index ("1") or "ch1"; None: every channel

    def matches_channel(self, channel: int | None, name: str | None) -> bool:
        """Whether a result of ``channel`` (named ``name``) is one this rule looks at."""
        if self.channel is None:
            return True
        if channel is None:
            return False  # a mixed stream has no channels
        wanted = self.channel.casefold()
        return wanted in (str(channel), f"ch{channel}") or (
            name is not None and name.strip().casefold() == wanted
        )

    def matches(self, result: Result) -> float | None:
        """The posterior of LABEL in ``result`` when the rule matches it, else None."""
        if result.task.strip().casefold() != self.task.casefold():
            return None
        if self.level is not None and (result.level or "").strip().casefold() != self.level:
            return None
        wanted = self.label.casefold()
        for prediction in result.predictions:
            if prediction.label.strip().casefold() != wanted:
                continue
            value = prediction.value
            if value is None or not math.isfinite(value):
                continue
            if value >= self.threshold if self.inclusive else value > self.threshold:
                return value
        return None


def _fail(expr: str, problem: str) -> UsageError:
    return UsageError(
        f"--fail-on '{expr}': {problem}", hint="expected [CHANNEL:]TASK=LABEL>=THRESHOLD[@LEVEL]"
    )


def parse_fail_on(expr: str) -> FailOn:
    """Parse one ``--fail-on`` expression (grammar in the module docstring).

    Raises UsageError naming the problem, e.g. ``--fail-on 'emotion=angry': missing '>=THRESHOLD'``.
    """
    at = expr.rfind(">")
    if at < 0:
        if "=" not in expr:
            raise _fail(expr, "missing '=' between TASK and LABEL, and '>=THRESHOLD'")
        raise _fail(expr, "missing '>=THRESHOLD'")
    inclusive = expr[at + 1 : at + 2] == "="
    op = ">=" if inclusive else ">"
    head, tail = expr[:at], expr[at + len(op) :]

    threshold_text, has_level, level_text = tail.partition("@")
    threshold_text = threshold_text.strip()
    if not threshold_text:
        raise _fail(expr, f"missing THRESHOLD after '{op}'")
    try:
        threshold = float(threshold_text)
    except ValueError:
        threshold = math.nan
    if not math.isfinite(threshold):
        raise _fail(expr, f"threshold {threshold_text!r} is not a number")
    if not 0.0 <= threshold <= 1.0:
        raise _fail(expr, f"threshold {threshold_text} is outside 0..1")

    level: str | None = None
    if has_level:
        level = level_text.strip().casefold()
        if not level:
            raise _fail(expr, "missing LEVEL after '@' (segment or utterance)")
        if level not in LEVELS:
            raise _fail(expr, f"unknown level {level_text.strip()!r} (segment or utterance)")

    channel, task, label = _parse_head(expr, head)
    return FailOn(
        text=expr,
        task=task,
        label=label,
        threshold=threshold,
        inclusive=inclusive,
        level=level,
        channel=channel,
    )


def _parse_head(expr: str, head: str) -> tuple[str | None, str, str]:
    """``[CHANNEL:]TASK=LABEL`` (what comes before the comparison) -> (channel, task, label)."""
    task, has_eq, label = head.partition("=")
    if not has_eq:
        raise _fail(expr, "missing '=' between TASK and LABEL")
    channel_text, has_channel, task = task.rpartition(":")
    channel = channel_text.strip() if has_channel else None
    task, label = task.strip(), label.strip()
    if channel == "":
        raise _fail(expr, "missing CHANNEL before ':'")
    if not task:
        raise _fail(expr, "missing TASK before '='")
    if not label:
        raise _fail(expr, "missing LABEL after '='")
    return channel, task, label


def parse_fail_ons(exprs: Iterable[str]) -> list[FailOn]:
    """Every ``--fail-on`` given, parsed (the first malformed one raises UsageError)."""
    return [parse_fail_on(e) for e in exprs]


def _is_channel_ref(text: str, names: list[str]) -> bool:
    """A name of ``names`` (case-insensitively), an index, or ``chN``."""
    folded = text.casefold()
    if folded in {n.casefold() for n in names}:
        return True
    digits = folded[2:] if folded.startswith("ch") else folded
    return digits.isdigit()


def check_channels(rules: Iterable[FailOn], *, split: bool, names: list[str]) -> None:
    """UsageError for a CHANNEL qualifier that can never match: without ``--channels split``,
    or neither one of ``names`` (``--channel-names``), an index nor ``chN``."""
    for rule in rules:
        if rule.channel is None:
            continue
        if not split:
            raise _fail(rule.text, f"a channel ({rule.channel!r}) needs --channels split")
        if not _is_channel_ref(rule.channel, names):
            known = ", ".join(names) if names else "none given"
            raise _fail(
                rule.text,
                f"no channel {rule.channel!r} (--channel-names: {known}; "
                "or an index 0, 1, ... or ch0, ch1, ...)",
            )


@dataclass(frozen=True, slots=True)
class Match:
    """One result that matched one rule."""

    source: str
    rule: str  # the rule's text, as given
    start_time: str  # as the service sent them
    end_time: str
    level: str | None
    posterior: float
    channel: int | None = None  # --channels split: the result's channel
    channel_name: str | None = None


def message_matches(rules: Iterable[FailOn], message: ResultMessage) -> list[Match]:
    """Pure: every (result, rule) of ``message`` that matches, in result then rule order."""
    found: list[Match] = []
    rules = [r for r in rules if r.matches_channel(message.channel, message.channel_name)]
    for result in message.results:
        for rule in rules:
            posterior = rule.matches(result)
            if posterior is not None:
                found.append(
                    Match(
                        source=message.source,
                        rule=rule.text,
                        start_time=result.start_time,
                        end_time=result.end_time,
                        level=result.level,
                        posterior=posterior,
                        channel=message.channel,
                        channel_name=message.channel_name,
                    )
                )
    return found


def find_matches(rules: Iterable[FailOn], messages: Iterable[ResultMessage]) -> list[Match]:
    """Pure: every match of ``rules`` in ``messages`` (e.g. a run's saved results), in order."""
    rules = list(rules)
    return [m for message in messages for m in message_matches(rules, message)]


def _number(value: float) -> str:
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return text or "0"


def format_match(m: Match) -> str:
    """One stderr line: ``fail-on match: call.wav 12.00-14.50 s (utterance) emotion=angry>=0.6,
    posterior 0.91`` (times as in the table; the level only when the result had one; with
    ``--channels split`` the channel after the input: ``call.wav [agent] 12.00-14.50 s ...``)."""
    start = format_time(m.start_time, parse_number(m.start_time))
    end = format_time(m.end_time, parse_number(m.end_time))
    level = f" ({display_text(m.level)})" if m.level else ""
    channel = ""
    if m.channel is not None:
        channel = f" [{display_text(m.channel_name or f'ch{m.channel}')}]"
    return (
        f"fail-on match: {display_text(m.source)}{channel} {start}-{end} s{level} "
        f"{display_text(m.rule)}, posterior {_number(m.posterior)}"
    )


class FailOnSink:
    """A Sink that checks every received result against the rules and records each match.

    ``on_match`` is called with every :class:`Match` as it is found (e.g. to print
    :func:`format_match` on stderr). Safe to share between concurrent streams.
    """

    def __init__(self, rules: Iterable[FailOn], on_match: Callable[[Match], None] | None = None) -> None:
        self.rules = list(rules)
        self.on_match = on_match
        self._matches: list[Match] = []
        self._lock = threading.Lock()

    @property
    def matches(self) -> list[Match]:
        """Every match so far, in the order found."""
        with self._lock:
            return list(self._matches)

    @property
    def matched(self) -> bool:
        with self._lock:
            return bool(self._matches)

    def matched_source(self, source: str) -> bool:
        """Whether any result of the input named ``source`` matched."""
        with self._lock:
            return any(m.source == source for m in self._matches)

    def begin(self, info: StreamInfo) -> None:
        pass

    def message(self, message: ResultMessage) -> None:
        if not self.rules:
            return
        for found in message_matches(self.rules, message):
            with self._lock:
                self._matches.append(found)
            if self.on_match is not None:
                self.on_match(found)

    def event(self, event: JsonObject) -> None:
        pass

    def end(self, info: StreamInfo, outcome: StreamOutcome) -> None:
        pass

    def close(self) -> None:
        pass


def apply_matches(status: ExitStatus, matched: bool) -> ExitStatus:
    """An input's exit status once ``--fail-on`` is considered: a successful stream whose
    results matched becomes FAIL_ON_MATCH (10); any failure keeps its own code."""
    if matched and status == ExitStatus.SUCCESS:
        return ExitStatus.FAIL_ON_MATCH
    return status
