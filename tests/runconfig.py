"""A RunConfig from flat keywords, as the tests that drive ``run_streams`` directly give them."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from bsstream.app import RunConfig
from bsstream.engine.options import Options

_STREAM = {f.name for f in fields(Options)}


def run_config(**kw: Any) -> RunConfig:
    """The engine Options' names (chunk_ms, level, timeout, retries, ...) go into ``stream``,
    the rest are RunConfig's own fields."""
    stream = Options(**{name: kw.pop(name) for name in list(kw) if name in _STREAM})
    return RunConfig(stream=stream, **kw)
