"""Files inside an installed package, found without importing it.

Importing a package runs its ``__init__``: ``soxr``'s imports numpy, ``imageio_ffmpeg``'s imports
logging and checks its binary by running it. Where bsstream needs only a file the package
ships (libsoxr's shared object, the ffmpeg binary), it looks the file up instead.
"""

from __future__ import annotations

import importlib.util
import os


def package_files(package: str, subfolder: str = "") -> list[str]:
    """The paths of the regular files in an installed top-level ``package`` (or in its
    ``subfolder``), sorted by name; empty when the package is not installed."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return []
    if spec is None or not spec.submodule_search_locations:
        return []
    found: list[str] = []
    for folder in spec.submodule_search_locations:
        where = os.path.join(folder, subfolder) if subfolder else folder
        try:
            names = sorted(os.listdir(where))
        except OSError:
            continue
        found += [path for name in names if os.path.isfile(path := os.path.join(where, name))]
    return found
