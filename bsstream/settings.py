"""Credentials and endpoint: flags > environment > ``.env``, validated.

Where each value comes from, first found wins (an empty value counts as unset):

1. the flag (``--cid``, ``--api-key`` or ``--api-key-file``, ``--endpoint``);
2. the environment: our names first, then the vendor SDK's (``BS_CID``, then
   ``BEHAVIORALSIGNALS_CID``; ``BS_API_KEY``, then ``BEHAVIORALSIGNALS_API_KEY``; ``BS_ENDPOINT``);
3. ``.env`` in the working directory, the same names in the same order (read only when needed).

The bare ``CID`` / ``API_KEY`` of the vendor's examples are never read (too generic: another
project's ``API_KEY`` must not be sent to this service); when credentials are missing and ``.env``
has them, the error says to rename them.

Pure apart from reading ``.env`` and a key file; imports no grpc, rich or click. The API key is
kept out of ``repr`` and every message.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from bsstream.status import UsageError

DEFAULT_ENDPOINT = "streaming.behavioralsignals.com:443"
DEFAULT_TIMEOUT = 60.0
DEFAULT_RETRIES: int | None = None  # no cap on reconnects: --retry-for decides
DEFAULT_RETRY_FOR = 60.0  # seconds of reconnecting without progress before a stream gives up

CID_MAX = 2**63 - 1  # cid is an int64 on the wire
CID_NAMES = ("BS_CID", "BEHAVIORALSIGNALS_CID")
API_KEY_NAMES = ("BS_API_KEY", "BEHAVIORALSIGNALS_API_KEY")
ENDPOINT_NAMES = ("BS_ENDPOINT",)
_VENDOR_EXAMPLE_NAMES = ("CID", "API_KEY")  # never read: only named in the missing-credentials hint

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


def parse_endpoint(text: str, *, where: str = "--endpoint") -> Endpoint:
    """HOST:PORT (IPv6 as [addr]:PORT). A missing or invalid port is a usage error naming
    ``where`` the value came from."""
    value = text.strip()
    match = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:(\d+)", value, re.ASCII) or re.fullmatch(
        r"([^:\s/]+):(\d+)", value, re.ASCII
    )
    if not match:
        raise UsageError(
            f"invalid {where} {value!r}: expected HOST:PORT",
            hint=f"e.g. {DEFAULT_ENDPOINT} or 127.0.0.1:50051",
        )
    port = int(match.group(2))
    if not 0 < port < 65536:
        raise UsageError(f"invalid {where} {value!r}: port must be 1-65535")
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


@dataclass(frozen=True, slots=True)
class Found:
    """A setting's value and where it came from, as the user would name it."""

    value: str
    where: str  # "--cid", "BS_CID", "BEHAVIORALSIGNALS_CID in .env", ...


class Sources:
    """The environment and ``.env`` (read once, and only when a value is not found before it)."""

    def __init__(self, env: Mapping[str, str] | None = None, dotenv: Mapping[str, str] | None = None) -> None:
        self.env: Mapping[str, str] = os.environ if env is None else env
        self._dotenv = dotenv

    @property
    def dotenv(self) -> Mapping[str, str]:
        if self._dotenv is None:
            self._dotenv = read_dotenv()
        return self._dotenv

    def lookup(self, names: tuple[str, ...]) -> Found | None:
        """The first non-empty value: each name in the environment, then each name in ``.env``."""
        for name in names:
            value = self.env.get(name)
            if value is not None and value.strip():
                return Found(value, name)
        for name in names:
            value = self.dotenv.get(name)
            if value is not None and value.strip():
                return Found(value, f"{name} in .env")
        return None


def parse_cid(raw: str | int, where: str) -> int:
    """A project id: a whole number from 1 to 2^63-1 (an int64 on the wire); else a usage error
    naming ``where`` it came from. A non-number is not echoed (it may be a misplaced key)."""
    text = str(raw).strip()
    if not re.fullmatch(r"[+-]?[0-9]+", text, re.ASCII):
        raise UsageError(f"{where} is not a number: the project id (cid) must be a whole number")
    value = int(text)
    if not 1 <= value <= CID_MAX:
        shown = text if len(text) <= 24 else text[:21] + "..."
        raise UsageError(f"{where} is out of range: the project id (cid) must be 1 to {CID_MAX}, got {shown}")
    return value


def read_api_key_file(path: str, stdin: IO[str] | None = None) -> str:
    """The key in the first line of ``path`` (``-``: standard input), surrounding whitespace
    removed. Unreadable, empty or (for ``-``) a terminal: a usage error naming the file."""
    if path == "-":
        if stdin is None or stdin.isatty():
            raise UsageError(
                "--api-key-file -: standard input is a terminal",
                hint="pipe the key in, e.g. `secret-tool lookup bs key | bsstream ... --api-key-file -`",
            )
        try:
            line = stdin.readline()
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise UsageError(f"--api-key-file -: cannot read standard input ({type(exc).__name__})") from None
        where = "standard input"
    else:
        try:
            with open(path, encoding="utf-8") as handle:
                line = handle.readline()
        except OSError as exc:
            raise UsageError(f"cannot read --api-key-file {path}: {exc.strerror or exc}") from None
        except (UnicodeDecodeError, ValueError):
            raise UsageError(f"--api-key-file {path} is not a text file") from None
        where = path
    key = line.strip()
    if not key:
        raise UsageError(f"--api-key-file {where} is empty: the key goes on its first line")
    return key


def resolve_credentials(
    cid: str | int | None,
    api_key: str | None,
    *,
    api_key_file: str | None = None,
    stdin: IO[str] | None = None,
    env: Mapping[str, str] | None = None,
    dotenv: Mapping[str, str] | None = None,
) -> Credentials:
    """Credentials from the flags, else the environment, else ``.env`` (see the module's
    docstring for the names and their order); a usage error naming what is missing or wrong."""
    sources = Sources(env, dotenv)
    if api_key and api_key_file:
        raise UsageError("give --api-key or --api-key-file, not both")
    cid_found = _find_cid(cid, sources)
    key = _find_api_key(api_key, api_key_file, stdin, sources)
    cid_value = parse_cid(cid_found.value, cid_found.where) if cid_found else None
    if cid_value is None or not key:
        raise _missing_credentials(cid_value is None, not key, sources)
    return Credentials(cid_value, key)


def _find_cid(cid: str | int | None, sources: Sources) -> Found | None:
    """``--cid`` when given (and not blank), else the first of :data:`CID_NAMES` found."""
    if cid is not None and str(cid).strip():
        return Found(str(cid), "--cid")
    return sources.lookup(CID_NAMES)


def _find_api_key(
    api_key: str | None, api_key_file: str | None, stdin: IO[str] | None, sources: Sources
) -> str | None:
    """The key from ``--api-key-file``, else ``--api-key``, else :data:`API_KEY_NAMES`."""
    if api_key_file:
        return read_api_key_file(api_key_file, stdin)
    if api_key:
        return api_key
    found = sources.lookup(API_KEY_NAMES)
    return found.value if found else None


def _missing_credentials(no_cid: bool, no_key: bool, sources: Sources) -> UsageError:
    """The usage error naming what is missing; the hint says to rename the vendor examples'
    bare ``CID`` / ``API_KEY`` when ``.env`` has them."""
    missing = []
    if no_cid:
        missing.append("--cid (or BS_CID)")
    if no_key:
        missing.append("--api-key (or BS_API_KEY)")
    hint = "get them from your Behavioral Signals project, or try --local for the offline emulator"
    bare = [name for name in _VENDOR_EXAMPLE_NAMES if (sources.dotenv.get(name) or "").strip()]
    if bare:
        ours = " / ".join(f"BS_{name}" for name in bare)
        hint = f".env has {' / '.join(bare)}, which bsstream does not read: rename them {ours}"
    return UsageError("missing " + " and ".join(missing), hint=hint)


def resolve_endpoint(
    flag: str | None, *, env: Mapping[str, str] | None = None, dotenv: Mapping[str, str] | None = None
) -> Endpoint:
    """--endpoint, else BS_ENDPOINT in the environment, else in ``.env``, else the default."""
    if flag is not None and flag.strip():
        return parse_endpoint(flag)
    found = Sources(env, dotenv).lookup(ENDPOINT_NAMES)
    if found is None:
        return parse_endpoint(DEFAULT_ENDPOINT)
    return parse_endpoint(found.value, where=found.where)


def load_ca_cert(path: Path) -> bytes:
    """The PEM bytes of ``--ca-cert``; unreadable, not PEM or not a certificate: a usage error
    naming the file (so gRPC never sees bad trust material)."""
    import ssl

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read --ca-cert {path}: {exc.strerror or exc}") from None
    if b"-----BEGIN CERTIFICATE-----" not in data:
        hint = "a DER file converts with: openssl x509 -inform der -in FILE -out FILE.pem"
        raise UsageError(f"--ca-cert {path} is not a PEM certificate file", hint=hint)
    try:
        ssl.create_default_context(cadata=data.decode("ascii"))
    except (UnicodeDecodeError, ssl.SSLError, ValueError):
        raise UsageError(f"--ca-cert {path} is not a valid PEM certificate (it does not parse)") from None
    return data


_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*(ms|h|m|s)?", re.IGNORECASE)
_DURATION_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, None: 1.0}


def parse_duration(text: str, *, where: str = "--retry-for") -> float:
    """Seconds from "90", "90s", "2m", "1m30s", "1.5h", "500ms" (a bare number is seconds).

    Anything else (negative, empty, unknown unit) is a usage error naming ``where``."""
    value = text.strip().lower()
    pos, total, parts = 0, 0.0, 0
    while pos < len(value):
        match = _DURATION_PART.match(value, pos)
        if match is None or (match.group(2) is None and match.end() != len(value)):
            break
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        parts += 1
        pos = match.end()
        while pos < len(value) and value[pos] == " ":
            pos += 1
    else:
        if parts:
            return total
    raise UsageError(
        f"invalid {where} {text!r}: expected a duration such as 90, 90s, 2m or 1m30s",
        hint="0 turns reconnecting off",
    )
