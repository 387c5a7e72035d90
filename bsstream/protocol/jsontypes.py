"""Pure: the types of JSON data as bsstream writes and reads it.

Encoders build a :data:`JsonObject` (``dict[str, object]``: the values are JSON-ready data);
decoders take what :func:`json.loads` gave as ``object`` and narrow it with ``isinstance``,
so nothing read from a file is trusted by its type.
"""

from __future__ import annotations

__all__ = ["JsonObject"]

JsonObject = dict[str, object]
"""One JSON object: string keys, JSON-ready values (str, int, float, bool, None, lists, objects)."""
