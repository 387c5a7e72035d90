"""The help people read: each command's options in named groups, its own examples, the exit
codes it can return, and the short usage bare ``bsstream`` prints.

All of it is data here (:data:`COMMANDS`), rendered by :class:`GroupedCommand`, a
``click.Command`` whose ``--help`` lists options by group instead of one flat list (no extra
dependency: rich-click or click-option-group would only do this). Every visible option of a
command must be in one of its groups; one that is not lands in a last "Other" group, which a
test forbids.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import IO

import click

__all__ = ["COMMANDS", "CommandHelp", "GroupedCommand", "TopGroup", "bare_usage", "exit_codes_text"]

# What each exit code means (README "Exit codes"); a command lists only those it can return.
EXIT_MEANINGS: dict[int, str] = {
    0: "ok",
    1: "service error",
    2: "usage",
    3: "auth/permission",
    4: "input/decoding",
    5: "connection/timeout",
    6: "output not writable",
    10: "a --fail-on rule matched",
    130: "interrupted (Ctrl-C)",
    143: "terminated (SIGTERM)",
}

OTHER = "Other"


@dataclass(frozen=True)
class CommandHelp:
    """One command's help: ``short`` for the command list; ``groups`` of parameter names
    (click's ``param.name``) under a heading, in order; ``examples`` as (command line,
    comment); ``exit_codes`` (code, meaning) it can return."""

    short: str
    groups: tuple[tuple[str, tuple[str, ...]], ...]
    examples: tuple[tuple[str, str], ...]
    exit_codes: tuple[tuple[int, str], ...]


def _codes(*codes: int) -> tuple[tuple[int, str], ...]:
    return tuple((code, EXIT_MEANINGS[code]) for code in codes)


_CONNECTION = ("cid", "api_key", "api_key_file", "endpoint", "insecure", "ca_cert", "local")
_STREAM_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Connection", (*_CONNECTION, "timeout", "retry_for", "retries")),
    ("Audio", ("chunk_ms", "realtime")),
    ("Input", ("raw", "sample_rate", "raw_channels", "channels", "channel_names", "mic", "duration")),
    (
        "Output",
        (
            "json",
            "level",
            "logits",
            "embeddings",
            "outputs",
            "subtitle_level",
            "subtitle_tasks",
            "embed_audio",
            "stats",
        ),
    ),
    ("Batch", ("jobs", "output_dir", "skip_done", "shard", "fail_on")),
    ("Behaviour", ("progress", "quiet", "debug", "help")),
)
_STREAM_CODES = _codes(0, 1, 2, 3, 4, 5, 6, 10, 130, 143)

COMMANDS: dict[str, CommandHelp] = {
    "analyze": CommandHelp(
        short="Behavioral analysis: emotion, gender, age, positivity and more.",
        groups=_STREAM_GROUPS,
        examples=(
            ("bsstream analyze --local call.wav", "offline, no account needed"),
            ("bsstream analyze call.mp3", "credentials: env or .env"),
            ("ffmpeg -i call.m4a -f wav - | bsstream analyze -", "anything ffmpeg reads"),
            ("bsstream analyze --json call.wav > call.jsonl", "JSON lines to a file"),
            ("bsstream analyze calls/ --jobs 4 --output-dir out/ --skip-done", ""),
            ("bsstream analyze call.wav --fail-on 'emotion=angry>=0.6@utterance'", ""),
            ("bsstream analyze call.wav --channels split --channel-names agent,customer", "stereo call"),
            ("bsstream analyze call.wav --channels split --fail-on 'ch1:emotion=angry>=0.8'", "per channel"),
            ("bsstream analyze --raw mulaw:8000 call.ulaw", "headerless telephony audio"),
            ("bsstream analyze 'https://bucket.example/call.wav?X-Amz-Signature=...'", "a URL"),
            ("bsstream analyze --mic --duration 30", "the default microphone"),
            ("bsstream analyze call.wav --output call.srt --subtitle-tasks emotion,age", "subtitles"),
        ),
        exit_codes=_STREAM_CODES,
    ),
    "deepfake": CommandHelp(
        short="Deepfake detection: is it a real voice?",
        groups=_STREAM_GROUPS,
        examples=(
            ("bsstream deepfake --local call.wav", "offline, no account needed"),
            ("bsstream deepfake call.wav --json | jq -r '.result[]?.final_label'", ""),
            ("bsstream deepfake inbox/*.wav --fail-on 'deepfake=spoofed>=0.8'", ""),
            ("bsstream deepfake call.wav --output verdict.html", "a report to share"),
        ),
        exit_codes=_STREAM_CODES,
    ),
    "scan": CommandHelp(
        short="Both analyses in one pass, one merged timeline.",
        groups=_STREAM_GROUPS,
        examples=(
            ("bsstream scan --local call.wav", "offline, no account needed"),
            ("bsstream scan call.wav --output call.html --output call.csv", ""),
            ("bsstream scan calls/ --jobs 4 --fail-on 'deepfake=spoofed>=0.8'", ""),
        ),
        exit_codes=_STREAM_CODES,
    ),
    "doctor": CommandHelp(
        short="Find out why streaming fails: DNS, TCP, TLS, credentials.",
        groups=(("Connection", (*_CONNECTION, "timeout")), ("Behaviour", ("help",))),
        examples=(
            ("bsstream doctor", "checks the service"),
            ("bsstream doctor --endpoint localhost:50051 --insecure", "a local server"),
            ("bsstream doctor --local", "the built-in emulator"),
        ),
        exit_codes=_codes(0, 1, 2, 3, 5, 130),
    ),
    "devices": CommandHelp(
        short="List the capture devices --mic can use.",
        groups=(("Input", ("backend",)), ("Behaviour", ("help",))),
        examples=(
            ("bsstream devices", "the platform's default backend"),
            ("bsstream devices --backend alsa", "another backend"),
        ),
        exit_codes=_codes(0, 2, 4),
    ),
    "replay": CommandHelp(
        short="Re-render a saved --json stream: table, summary, exports.",
        groups=(
            ("Output", ("as_json", "outputs", "subtitle_level", "subtitle_tasks")),
            ("Behaviour", ("help",)),
        ),
        examples=(
            ("bsstream analyze call.wav --json > call.jsonl", "save a run"),
            ("bsstream replay call.jsonl", "the table and summary again"),
            ("bsstream replay call.jsonl --output call.html --output call.csv", ""),
        ),
        exit_codes=_codes(0, 2, 4, 6, 130),
    ),
    "serve": CommandHelp(
        short="The local emulator of the API (heuristics, not real models).",
        groups=(
            ("Connection", ("host", "port", "tls_cert", "tls_key")),
            ("Access", ("cid", "api_key")),
            ("Limits", ("idle_timeout", "max_calls")),
            (
                "Faults (for testing clients)",
                ("abort_after", "abort_code", "delay_ms", "hang_after", "refuse_first", "close_early_after"),
            ),
            ("Behaviour", ("help",)),
        ),
        examples=(
            ("bsstream serve", "on 127.0.0.1:50051"),
            ("bsstream serve --port 0", "any free port"),
            ("BSSTREAM_SERVE_API_KEY=KEY bsstream serve --cid 42", "accept only these"),
            ("bsstream serve --abort-after 20 --abort-code unavailable", "test reconnects"),
        ),
        exit_codes=(
            (0, "stopped (Ctrl-C, SIGTERM)"),
            (2, "usage (bad TLS files)"),
            (5, "cannot listen on the address"),
        ),
    ),
}

# The order commands are listed in (bare bsstream, the top-level help's examples).
ORDER = ("analyze", "deepfake", "scan", "replay", "doctor", "devices", "serve")

# One example per command for bare ``bsstream`` and the top-level help.
TOP_EXAMPLES: dict[str, tuple[str, str]] = {
    "analyze": ("bsstream analyze --local call.wav", "try it offline, no account needed"),
    "deepfake": ("bsstream deepfake call.wav --json | jq -r '.result[]?.final_label'", ""),
    "scan": ("bsstream scan call.wav --output call.html", "both analyses, a report"),
    "replay": ("bsstream replay call.jsonl", "re-render a saved --json run"),
    "doctor": ("bsstream doctor", "why does streaming fail?"),
    "devices": ("bsstream devices", "what --mic can capture"),
    "serve": ("bsstream serve", "the emulator on 127.0.0.1:50051"),
}


def exit_codes_text(codes: Sequence[tuple[int, str]]) -> str:
    """``0 ok, 1 service error, ....``"""
    return ", ".join(f"{code} {meaning}" for code, meaning in codes) + "."


def _example_rows(examples: Sequence[tuple[str, str]], limit: int = 78) -> list[str]:
    """Example lines with their ``# comment``s aligned in one column, as far right as the
    longest command allows while every aligned line stays within ``limit`` columns (a longer
    command keeps its comment right after it)."""
    noted = [(cmd, note) for cmd, note in examples if note]
    width = 0
    for w in sorted({len(cmd) for cmd, _ in noted}, reverse=True):
        if all(w + 4 + len(note) <= limit for cmd, note in noted if len(cmd) <= w):
            width = w
            break
    rows = []
    for cmd, note in examples:
        if not note:
            rows.append(cmd)
        elif len(cmd) <= width:
            rows.append(f"{cmd.ljust(width)}  # {note}")
        else:
            rows.append(f"{cmd}  # {note}")
    return rows


class GroupedCommand(click.Command):
    """A command whose ``--help`` shows its options under the headings of :data:`COMMANDS`,
    then its own examples and exit codes; its one-line description is never cut."""

    def _help(self) -> CommandHelp | None:
        return COMMANDS.get(self.name or "")

    def get_short_help_str(self, limit: int = 45) -> str:
        found = self._help()
        return found.short if found is not None else super().get_short_help_str(limit)

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        records = self._option_records(ctx)
        for heading, names in self._option_groups(records):
            rows = [records[name] for name in names if name in records]
            if rows:
                with formatter.section(heading):
                    formatter.write_dl(rows)

    def _option_records(self, ctx: click.Context) -> dict[str, tuple[str, str]]:
        """Each option's help row by its parameter name (``help`` for the help option);
        arguments are in the usage line and the description."""
        records: dict[str, tuple[str, str]] = {}
        help_option = self.get_help_option(ctx)
        for param in self.get_params(ctx):
            if not isinstance(param, click.Option) or param.name is None:
                continue
            record = param.get_help_record(ctx)
            if record is not None:
                records["help" if param is help_option else param.name] = record
        return records

    def _option_groups(self, records: Mapping[str, object]) -> list[tuple[str, tuple[str, ...]]]:
        """The headings of :data:`COMMANDS` with their option names, then the options no
        heading places (under OTHER, or "Options" when the command has no headings)."""
        found = self._help()
        groups = list(found.groups) if found is not None else []
        placed = {name for _, names in groups for name in names}
        rest = tuple(name for name in records if name not in placed)
        if rest:
            groups.append((OTHER if groups else "Options", rest))
        return groups

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_epilog(ctx, formatter)
        found = self._help()
        if found is None:
            return
        with formatter.section("Examples"):
            for row in _example_rows(found.examples):
                formatter.write_text("\b\n" + row)
        with formatter.section("Exit codes"):
            formatter.write_text(exit_codes_text(found.exit_codes))


class TopGroup(click.Group):
    """The ``bsstream`` group: its ``--help`` ends with one example per command and every exit
    code (wrapped to the terminal); the command list shows each command's whole short line."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_epilog(ctx, formatter)
        with formatter.section("Examples"):
            for row in _example_rows([TOP_EXAMPLES[name] for name in ORDER]):
                formatter.write_text("\b\n" + row)
        with formatter.section("Exit codes"):
            formatter.write_text(exit_codes_text(_codes(*EXIT_MEANINGS)))
        formatter.write_paragraph()
        formatter.write_text("Each command's --help lists its options by group, examples and exit codes.")


def bare_usage(out: IO[str]) -> None:
    """What bare ``bsstream`` prints (to stderr; the caller exits 2): the usage, the commands,
    one example per line, and where to read more."""
    width = max(len(name) for name in ORDER)
    lines = ["usage: bsstream COMMAND [OPTIONS] [INPUT...]", "", "commands:"]
    lines += [f"  {name.ljust(width)}  {COMMANDS[name].short}" for name in ORDER]
    lines += ["", "examples:"]
    lines += [f"  {row}" for row in _example_rows([TOP_EXAMPLES[name] for name in ORDER])]
    lines += ["", "'bsstream COMMAND --help' for a command's options, examples and exit codes."]
    out.write("\n".join(lines) + "\n")
    out.flush()
