"""``--channels split``: each channel of an input streamed as its own call, outputs tagged.

The input is decoded once with its channels kept (:mod:`bsstream.audio.channels`); every
channel (times every method, in ``scan``) gets its own Session, so each reconnects and resumes
on its own. Between the sessions and the outputs:

- :class:`ChannelTag` (one per call) puts ``channel`` (and ``channel_name``) on every message
  and event, and turns a call's ``--stats`` into a stats line carrying its channel;
- :class:`ChannelMerge` (one per input) makes the outputs see one stream per input and method,
  as without split: one ``begin``, every message as it arrives, and one ``end`` once every
  channel's call has ended, with the worst status and every channel's summary (each task
  summary carries its ``channel`` and ``channel_name``; text names it ``TASK [CHANNEL]``, e.g.
  ``emotion [agent]``, ``deepfake [ch1]``), in channel order.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import Protocol

from bsstream.display import channel_label
from bsstream.protocol.jsonlines import stats_line
from bsstream.protocol.jsontypes import JsonObject
from bsstream.protocol.results import ResultMessage
from bsstream.protocol.stream import NullSink, Sink, StreamInfo, StreamOutcome
from bsstream.protocol.summary import Summary
from bsstream.scan import merge_outcomes
from bsstream.status import ExitStatus

__all__ = ["ChannelMerge", "ChannelTag", "channel_label", "run_split"]


class ChannelTag(NullSink):
    """One call's view of the outputs: its messages and events carry its channel."""

    def __init__(self, downstream: Sink, channel: int, name: str | None) -> None:
        self.downstream = downstream
        self.channel = channel
        self.name = name

    def _tags(self) -> JsonObject:
        tags: JsonObject = {"channel": self.channel}
        if self.name is not None:
            tags["channel_name"] = self.name
        return tags

    def begin(self, info: StreamInfo) -> None:
        self.downstream.begin(info)

    def message(self, message: ResultMessage) -> None:
        self.downstream.message(replace(message, channel=self.channel, channel_name=self.name))

    def event(self, event: JsonObject) -> None:
        self.downstream.event({**event, **self._tags()})

    def end(self, info: StreamInfo, outcome: StreamOutcome) -> None:
        if outcome.stats is not None:
            self.downstream.event({**stats_line(info.source, outcome.stats, info.method), **self._tags()})
        label = channel_label(self.channel, self.name)
        tasks = tuple(replace(t, channel=self.channel, channel_name=self.name) for t in outcome.summary.tasks)
        error = f"{label}: {outcome.error}" if outcome.error else None
        self.downstream.end(info, replace(outcome, summary=Summary(tasks=tasks), error=error))


def _first_channel(outcome: StreamOutcome) -> int:
    """The channel an outcome's summary is of (channels ending in any order are listed in
    channel order)."""
    return min((t.channel for t in outcome.summary.tasks if t.channel is not None), default=0)


class ChannelMerge(NullSink):
    """The calls of one input's channels as one stream per method (see the module docstring)."""

    def __init__(self, downstream: Sink, channels: int) -> None:
        self.downstream = downstream
        self.channels = channels
        self._lock = threading.Lock()
        self._begun: set[str] = set()
        self._ended: dict[str, list[StreamOutcome]] = {}

    def begin(self, info: StreamInfo) -> None:
        with self._lock:
            first = info.method not in self._begun
            self._begun.add(info.method)
        if first:
            self.downstream.begin(info)

    def message(self, message: ResultMessage) -> None:
        self.downstream.message(message)

    def event(self, event: JsonObject) -> None:
        self.downstream.event(event)

    def end(self, info: StreamInfo, outcome: StreamOutcome) -> None:
        with self._lock:
            done = self._ended.setdefault(info.method, [])
            done.append(outcome)
            last = len(done) == self.channels
        if last:
            merged = merge_outcomes(sorted(done, key=_first_channel))
            # audio sent per channel is the input's length; results and messages add up
            self.downstream.end(info, merged)


class ChannelBranch(Protocol):
    """One copy of one channel's audio (``bsstream.audio.tee.Branch``): a PCM source."""

    name: str
    duration: float | None

    def blocks(self) -> Iterator[bytes]: ...

    def close(self) -> None: ...


class Channels(Protocol):
    """The channels of one decode (``bsstream.audio.channels.ChannelTee``)."""

    channels: int

    def channel_branches(self, channel: int) -> Sequence[ChannelBranch]: ...

    def close(self) -> None: ...


class Streamer(Protocol):
    """What streams one branch to a sink (``bsstream.session.Session``)."""

    def run(self, source: ChannelBranch, sink: Sink) -> StreamOutcome: ...


def run_split(
    tee: Channels,
    names: list[str | None],
    methods: list[str],
    session: Callable[[str], Streamer],
    sink: Sink,
) -> list[ExitStatus]:
    """Stream every channel of ``tee`` (a ChannelTee with ``len(methods)`` copies per channel)
    to every method concurrently; the exit status of each call. ``session(method)`` makes a
    Session; ``names[c]`` is channel c's name or None."""
    calls: list[tuple[int, int]] = [(c, k) for c in range(tee.channels) for k in range(len(methods))]
    merge = ChannelMerge(sink, tee.channels)
    codes: list[ExitStatus] = [ExitStatus.SUCCESS] * len(calls)
    escaped: list[BaseException] = []

    def one(i: int) -> None:
        channel, k = calls[i]
        branch = tee.channel_branches(channel)[k]
        try:
            outcome = session(methods[k]).run(branch, ChannelTag(merge, channel, names[channel]))
            codes[i] = outcome.status
        except BaseException as exc:  # never a thread traceback: raised in the caller below
            escaped.append(exc)
        finally:
            branch.close()  # a failed call stops taking audio; the others go on

    threads = [
        threading.Thread(target=one, args=(i,), name=f"bsstream-channel-{i}", daemon=True)
        for i in range(len(calls))
    ]
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive():
            t.join(0.1)
    tee.close()
    if escaped:
        raise escaped[0]
    return codes
