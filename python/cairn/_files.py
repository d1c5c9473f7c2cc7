"""Files handed over by the core for ``checkpoint.open()``.

The core streams the file, verified against its SHA-256, into ``open/`` in Cairn's cache
folder (``CAIRN_CACHE_DIR``, else ``$XDG_CACHE_HOME/cairn``, else ``~/.cache/cairn``; not /tmp,
which is often memory) and answers with its path. We open it and, on POSIX, delete its name at
once: the open file stays readable until closed, and its disk space is freed then. Neither
process ever holds the contents in memory, and the caller gets a real file object: seekable,
with ``fileno()``, which ``torch.load`` and ``pickle.load`` read directly.
"""

from __future__ import annotations

import os
from typing import BinaryIO


def take(path: str) -> BinaryIO:
    """Opens a handed-over file for reading and makes sure it disappears when closed."""
    if os.name == "nt":
        # O_TEMPORARY: Windows deletes the file when its last handle closes.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_TEMPORARY", 0))
        return os.fdopen(fd, "rb")
    handle = open(path, "rb")
    try:
        os.unlink(path)
    except OSError:
        pass
    return handle
