"""Credentials and endpoint: flags > environment > .env, validated into one Settings object.

Pure apart from reading ``.env``; imports no grpc, rich or click. The API key is kept out of
``repr`` and every message.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from bsstream.status import UsageError

DEFAULT_ENDPOINT = "streaming.behavioralsignals.com:443"
DEFAULT_TIMEOUT = 60.0
DEFAULT_RETRIES = 3

_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]", "ip6-localhost"}


@dataclass(frozen=True, slots=True)
class Endpoint:
    host: str
    port: int

    @property
    def target(self) -> str:
        """The gRPC target string ("host:port", IPv6 in brackets)."""
        host = f"[{self.host}]" if ":" in self.host and not self.host.startswith("[") else self.host
        return f"{host}:{self.port}"

    @property
    def is_loopback(self) -> bool:
        return self.host in _LOOPBACK_HOSTS or self.host.startswith("127.")


def parse_endpoint(text: str) -> Endpoint:
    """HOST:PORT (IPv6 as [addr]:PORT). A missing or invalid port is a usage error."""
    value = text.strip()
    match = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:(\d+)", value) or re.fullmatch(r"([^:\s/]+):(\d+)", value)
    if not match:
        raise UsageError(
            f"invalid --endpoint {value!r}: expected HOST:PORT",
            hint=f"e.g. {DEFAULT_ENDPOINT} or 127.0.0.1:50051",
        )
    port = int(match.group(2))
    if not 0 < port < 65536:
        raise UsageError(f"invalid --endpoint {value!r}: port must be 1-65535")
    return Endpoint(match.group(1), port)


@dataclass(frozen=True, slots=True)
class Credentials:
    cid: int
    api_key: str = field(repr=False)

    def __repr__(self) -> str:  # never show the key
        return f"Credentials(cid={self.cid}, api_key=***)"


def read_dotenv(directory: Path | None = None) -> dict[str, str]:
    """Values from ``.env`` in the working directory (empty when there is none)."""
    path = (directory or Path.cwd()) / ".env"
    if not path.is_file():
        return {}
    from dotenv import dotenv_values

    try:
        values = dotenv_values(path)
    except (OSError, UnicodeDecodeError):
        return {}
    return {k: v for k, v in values.items() if v is not None}


def resolve_credentials(
    cid: int | None,
    api_key: str | None,
    *,
    env: dict[str, str] | None = None,
    dotenv: dict[str, str] | None = None,
) -> Credentials:
    """Credentials from flags, else the environment, else ``.env``; usage error naming what is missing.

    Click already fills ``cid``/``api_key`` from flags and the environment; ``env`` is consulted
    here only for callers outside click.
    """
    environ = os.environ if env is None else env
    dot = read_dotenv() if dotenv is None else dotenv
    if cid is None:
        raw = environ.get("BS_CID") or dot.get("BS_CID")
        if raw is not None and raw.strip():
            try:
                cid = int(raw.strip())
            except ValueError:
                raise UsageError(
                    "BS_CID is not a number: the project id (cid) must be an integer",
                    hint="check BS_CID in the environment or .env",
                ) from None
    if not api_key:
        api_key = environ.get("BS_API_KEY") or dot.get("BS_API_KEY") or None
    missing = []
    if cid is None:
        missing.append("--cid (or BS_CID)")
    if not api_key:
        missing.append("--api-key (or BS_API_KEY)")
    if missing:
        raise UsageError(
            "missing " + " and ".join(missing),
            hint="get them from your Behavioral Signals project, or try --local for the offline emulator",
        )
    assert cid is not None and api_key is not None
    return Credentials(cid, api_key)
