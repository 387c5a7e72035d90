"""Keeps secrets out of everything bsstream prints: one registry, one function."""

from __future__ import annotations

_SECRETS: set[str] = set()
MASK = "***"


def register_secret(secret: str | None) -> None:
    """Remember a secret (e.g. the API key) so ``redact`` masks it; short strings are ignored."""
    if secret and len(secret) >= 4:
        _SECRETS.add(secret)


def redact(text: str) -> str:
    """``text`` with every registered secret replaced by ***."""
    for secret in _SECRETS:
        if secret in text:
            text = text.replace(secret, MASK)
    return text
