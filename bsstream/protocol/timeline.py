"""Pure: the results of a stream gathered into rows (one per time window and level).

This is the model the live view renders: rows keep arrival order of their first result,
columns are tasks in the order first seen; nothing depends on a fixed list of tasks. Beside
the rows it keeps what a stable layout needs: each task's label vocabulary (every label seen in
its predictions, so a column can be sized for all of them from the first result), the newest
cell per task (the live view's "now" line) and how many values embeddings carry.

With ``--channels split`` each message carries its channel: rows are kept apart per channel
(the same window of two channels is two rows, each with its ``channel`` label), ``channels``
lists the labels in the order first seen, and the newest cells are kept per channel too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bsstream.protocol.results import Result, ResultMessage

# A task's vocabulary stops growing here: a service sending a new label per result (free text)
# must not make the model grow without bound.
MAX_LABELS_PER_TASK = 64


def embedding_dims(embedding: str | None) -> int | None:
    """How many values an embedding string holds (``"[0.1, -0.2]"`` -> 2); None when absent or
    blank."""
    if embedding is None:
        return None
    body = embedding.strip().strip("[]")
    values = [v for v in body.replace(",", " ").split() if v]
    return len(values) if values else None


@dataclass(slots=True)
class Cell:
    label: str
    posterior: float | None
    raw_posterior: str | None
    dims: int | None = None  # the embedding's number of values, when the result carried one
    level: str | None = None  # the level of the result (its row's level)

    @property
    def embedding_only(self) -> bool:
        """A result that carries only an embedding (``features``): no label, no posterior."""
        return self.dims is not None and not self.label and self.posterior is None


@dataclass(slots=True)
class Row:
    start_time: str
    end_time: str
    level: str | None
    source: str = ""
    cells: dict[str, Cell] = field(default_factory=dict)
    channel: str = ""  # --channels split: the channel's label (its name, or ch0, ch1, ...)

    @property
    def key(self) -> tuple[str, str, str, str | None, str]:
        return (self.source, self.start_time, self.end_time, self.level, self.channel)


def message_channel(message: ResultMessage) -> str:
    """A message's channel label: its ``--channel-names`` name, else ``ch0``, ``ch1``, ...;
    empty for a mixed stream."""
    if message.channel is None:
        return ""
    return message.channel_name if message.channel_name else f"ch{message.channel}"


@dataclass(slots=True)
class Timeline:
    rows: list[Row] = field(default_factory=list)
    tasks: list[str] = field(default_factory=list)
    messages: int = 0
    results: int = 0
    labels: dict[str, list[str]] = field(default_factory=dict)  # task -> every label seen, in order
    latest: dict[str, Cell] = field(default_factory=dict)  # task -> its newest cell (any level)
    latest_segment: dict[str, Cell] = field(default_factory=dict)  # ... of a level other than utterance
    channels: list[str] = field(default_factory=list)  # --channels split: labels, in order seen
    by_channel: dict[str, dict[str, Cell]] = field(default_factory=dict)  # channel -> task -> newest
    by_channel_segment: dict[str, dict[str, Cell]] = field(default_factory=dict)
    _index: dict[tuple[str, str, str, str | None, str], Row] = field(default_factory=dict)
    _seen_labels: dict[str, set[str]] = field(default_factory=dict)

    def add(self, message: ResultMessage) -> None:
        self.messages += 1
        channel = message_channel(message)
        for result in message.results:
            self.add_result(result, source=message.source, channel=channel)

    def add_result(self, result: Result, *, source: str = "", channel: str = "") -> None:
        self.results += 1
        if result.task not in self.tasks:
            self.tasks.append(result.task)
            self.labels[result.task] = []
            self._seen_labels[result.task] = set()
        self._learn_labels(result)
        key = (source, result.start_time, result.end_time, result.level, channel)
        row = self._index.get(key)
        if row is None:
            row = Row(result.start_time, result.end_time, result.level, source, channel=channel)
            self._index[key] = row
            self.rows.append(row)
        posterior = None
        for p in result.predictions:
            if p.label == result.final_label:
                posterior = p.posterior
                break
        cell = Cell(
            result.final_label,
            result.final_posterior,
            posterior,
            dims=embedding_dims(result.embedding),
            level=result.level,
        )
        row.cells[result.task] = cell
        self.latest[result.task] = cell
        if result.level != "utterance":
            self.latest_segment[result.task] = cell
        if channel:
            if channel not in self.by_channel:
                self.channels.append(channel)
                self.by_channel[channel], self.by_channel_segment[channel] = {}, {}
            self.by_channel[channel][result.task] = cell
            if result.level != "utterance":
                self.by_channel_segment[channel][result.task] = cell

    def now(self, task: str, channel: str | None = None) -> Cell | None:
        """What a task says now: its newest segment-level cell, or its newest cell of any level
        when it has only utterance results (a stream asked for utterances only); of one
        channel when ``channel`` is given."""
        if channel is not None:
            newest = self.by_channel_segment.get(channel, {}).get(task)
            return newest or self.by_channel.get(channel, {}).get(task)
        return self.latest_segment.get(task) or self.latest.get(task)

    def _learn_labels(self, result: Result) -> None:
        seen, ordered = self._seen_labels[result.task], self.labels[result.task]
        if len(seen) >= MAX_LABELS_PER_TASK:
            return
        for label in (result.final_label, *(p.label for p in result.predictions)):
            if label and label not in seen and len(seen) < MAX_LABELS_PER_TASK:
                seen.add(label)
                ordered.append(label)
