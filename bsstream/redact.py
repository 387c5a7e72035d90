"""Keeps secrets and terminal control characters out of everything bsstream prints: one
registry, :func:`redact`, and :func:`safe_line` for every message line."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import IO

_SECRETS: set[str] = set()
MASK = "***"


def register_secret(secret: str | None) -> None:
    """Remember a secret (e.g. the API key) so ``redact`` masks it; short strings are ignored."""
    if secret and len(secret) >= 4:
        _SECRETS.add(secret)


@contextlib.contextmanager
def secrets_scope() -> Iterator[None]:
    """A fresh registry for the block, the previous one restored after: an in-process run of
    the CLI (``cli.main`` given its streams) masks exactly the secrets it registered itself."""
    saved = set(_SECRETS)
    _SECRETS.clear()
    try:
        yield
    finally:
        _SECRETS.clear()
        _SECRETS.update(saved)


def redact(text: str) -> str:
    """``text`` with every registered secret replaced by ***."""
    for secret in _SECRETS:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def safe_line(text: str) -> str:
    """``text`` as bsstream writes it to a terminal or a text stream: secrets masked, and
    control characters (newline, ANSI escapes, ...), line separators and bidi controls shown as
    visible escapes (``\\x0a``, ``\\x1b``), so one message is always one line and a file name
    cannot drive the terminal. The one function every stderr message goes through (JSON
    output is escaped by ``json.dumps`` instead)."""
    from bsstream.display import display_text

    return display_text(redact(text))


def write_message(stream: IO[str], line: str, *, raw: bool = False) -> None:
    """The one writer of stderr lines: ``line`` through :func:`safe_line` (secrets masked, one
    line), or with ``raw`` several lines as they are (a --debug traceback) with secrets still
    masked; flushed at once. A stream already closed (``| head``, a finished test) is ignored."""
    text = redact(line.rstrip("\n")) if raw else safe_line(line.rstrip("\n"))
    try:
        stream.write(text + "\n")
        stream.flush()
    except (BrokenPipeError, ValueError):
        pass
