"""Pure: the results of a stream gathered into rows (one per time window and level).

This is the model the live table renders: rows keep arrival order of their first result,
columns are tasks in the order first seen; nothing depends on a fixed list of tasks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bsstream.protocol.results import Result, ResultMessage


@dataclass(slots=True)
class Cell:
    label: str
    posterior: float | None
    raw_posterior: str | None


@dataclass(slots=True)
class Row:
    start_time: str
    end_time: str
    level: str | None
    source: str = ""
    cells: dict[str, Cell] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, str, str | None]:
        return (self.source, self.start_time, self.end_time, self.level)


@dataclass(slots=True)
class Timeline:
    rows: list[Row] = field(default_factory=list)
    tasks: list[str] = field(default_factory=list)
    messages: int = 0
    results: int = 0
    _index: dict[tuple[str, str, str, str | None], Row] = field(default_factory=dict)

    def add(self, message: ResultMessage) -> None:
        self.messages += 1
        for result in message.results:
            self.add_result(result, source=message.source)

    def add_result(self, result: Result, *, source: str = "") -> None:
        self.results += 1
        if result.task not in self.tasks:
            self.tasks.append(result.task)
        key = (source, result.start_time, result.end_time, result.level)
        row = self._index.get(key)
        if row is None:
            row = Row(result.start_time, result.end_time, result.level, source)
            self._index[key] = row
            self.rows.append(row)
        posterior = None
        for p in result.predictions:
            if p.label == result.final_label:
                posterior = p.posterior
                break
        row.cells[result.task] = Cell(result.final_label, result.final_posterior, posterior)
