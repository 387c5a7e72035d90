"""Pure: text as bsstream shows it on one line of a terminal, a stderr message or a report row:
escaped control characters, times, windows, posteriors and shares. Below every writer of text
(redact, render, batch, export); stdlib only.
"""

from __future__ import annotations

import math
import unicodedata

__all__ = [
    "channel_label",
    "display_text",
    "format_posterior",
    "format_share",
    "format_time",
    "format_window",
]


# Bidirectional-text controls ("trojan source") are shown escaped like control characters;
# other format characters (ZWJ in emoji sequences, soft hyphens) are left alone.
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_ESCAPED_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})


def _escape(ch: str) -> str:
    code = ord(ch)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


def display_text(text: str) -> str:
    """``text`` safe for one line on a terminal: control characters, lone surrogates, line and
    paragraph separators and bidi controls become visible escapes (``\\x1b``, ``\\n``-style as
    ``\\x0a``); everything else (any script, emoji) is kept as is.

    Only for display: the JSON lines always carry strings exactly as the service sent them.
    """
    if text.isprintable():  # the common case: nothing to escape
        return text
    return "".join(
        _escape(ch) if ch in _BIDI_CONTROLS or unicodedata.category(ch) in _ESCAPED_CATEGORIES else ch
        for ch in text
    )


def format_time(text: str, value: float | None) -> str:
    """A wire time for display: ``2`` -> ``2.00``; unparseable text is shown as sent (escaped);
    an empty time shows as ``?``."""
    if value is not None and math.isfinite(value):
        return f"{value:.2f}"
    return display_text(text) if text.strip() else "?"


def format_window(start_time: str, start: float | None, end_time: str, end: float | None) -> str:
    """``0.00-2.00``: a result's time window for display."""
    return f"{format_time(start_time, start)}-{format_time(end_time, end)}"


def format_posterior(value: float | None) -> str | None:
    """A posterior with two decimals (``0.70``), or None when missing or unparseable."""
    return None if value is None or not math.isfinite(value) else f"{value:.2f}"


def format_share(share: float) -> str:
    """``64%``: a share (0..1) as a whole percentage (``?%`` if not a number)."""
    return f"{share * 100:.0f}%" if math.isfinite(share) else "?%"


def channel_label(channel: int, name: str | None) -> str:
    """How a channel is shown in text: its name, else ``ch0``, ``ch1``, ..."""
    return name if name else f"ch{channel}"
