"""Pure: the one colour mapping of labels, for the terminal and the HTML report alike.

Same label, same colour, on every screen, run and machine: a label's colour is a stable hash
(FNV-1a of a salted label, never Python's per-process ``hash``) into a fixed palette, except
the deepfake pair, which keeps green for genuine and red for synthetic. Colours are ``#rrggbb``
strings: rich takes them as styles (and downgrades them to what the terminal can show; with
``NO_COLOR`` set, rich shows no colour at all), the HTML report as CSS colours.

This module imports nothing, so the HTML export uses it too (``bsstream.export.html`` imports
``label_color`` from here).
"""

from __future__ import annotations

__all__ = ["EMPTY_LABEL_COLOR", "FIXED_COLORS", "PALETTE", "label_color", "label_style"]

# Tableau 20 without its greys (grey is for spans with no label), plus cyan and violet.
PALETTE: tuple[str, ...] = (
    "#4e79a7", "#a0cbe8", "#f28e2b", "#ffbe7d", "#59a14f", "#8cd17d", "#b6992d", "#f1ce63", "#499894",
    "#86bcb6", "#e15759", "#ff9da7", "#d37295", "#fabfd2", "#b07aa1", "#d4a6c8", "#9d7660", "#d7b5a6",
    "#17becf", "#7b61c9",
)  # fmt: skip
FIXED_COLORS: dict[str, str] = {"bonafide": "#2e9d5b", "spoofed": "#d3404e"}
EMPTY_LABEL_COLOR = "#c9ced6"
# The salt is chosen so the labels of each task the vendor documents (and the emulator's label
# sets) fall in different colour families (blue, orange, green, olive, teal, red, pink, purple,
# brown): distinct colours inside each task (tests/test_export_html.py checks it).
_SALT = "2701:"


def _fnv1a(text: str) -> int:
    h = 0x811C9DC5
    # surrogatepass: a lone surrogate from a broken service still gets a colour, never a crash
    for byte in text.encode("utf-8", "surrogatepass"):
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


def label_color(label: str) -> str:
    """The colour of a label (``#rrggbb``): the same label gets the same colour everywhere."""
    if label == "":
        return EMPTY_LABEL_COLOR
    fixed = FIXED_COLORS.get(label.strip().lower())
    if fixed:
        return fixed
    return PALETTE[_fnv1a(_SALT + label) % len(PALETTE)]


def label_style(label: str) -> str:
    """The rich style of a label on a terminal: its colour as the text colour."""
    return label_color(label)
