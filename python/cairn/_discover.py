"""Finding Cairn's core: the TypeScript ``cairn`` command this binding drives.

In order: the ``CAIRN_CORE`` environment variable (a command line, e.g.
``node /opt/cairn/dist/cli/main.js``), else the ``cairn`` executable on PATH, else a source
checkout around the package (``../dist/cli/main.js`` from ``python/``, run with ``node``).
"""

from __future__ import annotations

import os
import shlex
import shutil
from pathlib import Path
from typing import List

from .errors import CoreNotFoundError

INSTALL_ADVICE = (
    "Install the core with `npm install -g cairn` (or `npm install -g /path/to/a/cairn/checkout`; "
    "it needs Node.js 20 or later), or set CAIRN_CORE to its command line, "
    'e.g. CAIRN_CORE="node /path/to/cairn/dist/cli/main.js".'
)


def _checkout_entry() -> Path:
    # python/cairn/_discover.py -> python/ -> the checkout's root
    return Path(__file__).resolve().parent.parent.parent / "dist" / "cli" / "main.js"


def find_core() -> List[str]:
    """
    The command line that starts the core (``_rpc`` is appended by the caller).

    Raises ``CoreNotFoundError`` saying what was tried and what to do.
    """
    configured = os.environ.get("CAIRN_CORE", "").strip()
    if configured:
        command = shlex.split(configured, posix=os.name != "nt")
        if not command:
            raise CoreNotFoundError(f"CAIRN_CORE is set but empty. {INSTALL_ADVICE}")
        return command
    on_path = shutil.which("cairn")
    if on_path:
        return [on_path]
    entry = _checkout_entry()
    if entry.is_file():
        node = shutil.which("node")
        if node is None:
            raise CoreNotFoundError(f"Found Cairn's core at {entry}, but no `node` on PATH to run it. Install Node.js 20 or later, or set CAIRN_CORE.")
        return [node, str(entry)]
    raise CoreNotFoundError(
        "The cairn Python package drives Cairn's core (the `cairn` command) and could not find it: "
        f"CAIRN_CORE is not set, there is no `cairn` on PATH, and no built source checkout at {entry}. {INSTALL_ADVICE}"
    )
