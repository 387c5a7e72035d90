"""The local emulator of the Behavioral Signals streaming API (``bsstream serve``, ``--local``).

Results come from simple acoustic heuristics, not Behavioral Signals models.
``bsstream.Emulator`` (the same class) serves tests of your own code: see
``examples/test_with_emulator.py`` in the repository (a fixture, faults on demand, what the server
received). The names below load lazily, so ``bsstream --help`` (which imports the serve command) stays
free of grpc and numpy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bsstream.emulator.server import EMULATOR_METADATA, CallLog, Emulator, EmulatorError, Faults

__all__ = ["EMULATOR_METADATA", "CallLog", "Emulator", "EmulatorError", "Faults"]


def __getattr__(name: str) -> object:
    if name in __all__:
        from bsstream.emulator import server

        return getattr(server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
