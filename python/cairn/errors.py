"""Cairn's exceptions: one per error code of the core, each a subclass of ``CairnError``.

The message is the core's own, which says what to do next. Programmer errors (a wrong
argument, a bad filter) are also ``ValueError``/``TypeError``, so ordinary ``except`` clauses
catch them; an unknown ID is also a ``LookupError``.

Example::

    try:
        cairn.experiments.get("e51")
    except cairn.AmbiguousIdError as error:
        print(error.details["candidates"])
"""

from __future__ import annotations

from typing import Any, Dict, Optional


class CairnError(Exception):
    """Base of every Cairn error. ``code`` is the core's stable error code, ``details`` its facts."""

    code = "ERROR"

    def __init__(self, message: str, *, code: Optional[str] = None, details: Optional[Dict[str, Any]] = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details: Dict[str, Any] = dict(details or {})

    def __str__(self) -> str:
        return self.message


class InvalidArgumentError(CairnError, ValueError, TypeError):
    """A wrong argument: a type, a value, a missing path (code ``INVALID_ARGUMENT``)."""

    code = "INVALID_ARGUMENT"


class InvalidFilterError(InvalidArgumentError):
    """A filter or sort expression that does not parse or names an unknown field."""

    code = "INVALID_FILTER"


class NotFoundError(CairnError, LookupError):
    """No experiment, checkpoint or file by that name."""

    code = "NOT_FOUND"


class AmbiguousIdError(NotFoundError):
    """An ID prefix that matches more than one thing; ``details["candidates"]`` lists them."""

    code = "AMBIGUOUS_ID"


class ConflictError(CairnError):
    """A checkout would overwrite files with other contents; ``details["conflicts"]`` lists them."""

    code = "CONFLICT"


class UnsafePathError(CairnError, ValueError):
    """A stored path that would escape the output folder."""

    code = "UNSAFE_PATH"


class CorruptError(CairnError):
    """An object or record fails verification."""

    code = "CORRUPT"


class StorageError(CairnError):
    """The storage service refused or failed."""

    code = "STORAGE"


class ConfigError(CairnError, ValueError):
    """cairn.yaml is unreadable or invalid."""

    code = "CONFIG"


class UnsupportedUrlError(CairnError, ValueError):
    """A repository URL this version of the core cannot open."""

    code = "UNSUPPORTED_URL"


class FormatTooNewError(CairnError):
    """The repository was written by a newer major format: upgrade Cairn."""

    code = "FORMAT_TOO_NEW"


class CoreNotFoundError(CairnError):
    """The binding cannot find Cairn's core (the ``cairn`` command)."""

    code = "CORE_NOT_FOUND"


class CoreError(CairnError):
    """The core process failed: it exited, does not speak the protocol, or hit a bug."""

    code = "CORE"


class PlotUnavailableError(CairnError, ImportError):
    """Plotting needs matplotlib, which is not installed."""

    code = "PLOT_UNAVAILABLE"


_BY_CODE = {
    cls.code: cls
    for cls in (
        InvalidArgumentError,
        InvalidFilterError,
        NotFoundError,
        AmbiguousIdError,
        ConflictError,
        UnsafePathError,
        CorruptError,
        StorageError,
        ConfigError,
        UnsupportedUrlError,
        FormatTooNewError,
    )
}


def error_from_wire(error: Dict[str, Any]) -> CairnError:
    """The exception for an error response of the core; unknown codes become ``CairnError``."""
    code = str(error.get("code", "ERROR"))
    message = str(error.get("message", "unknown error"))
    details = error.get("details") if isinstance(error.get("details"), dict) else None
    if code == "INTERNAL":
        return CoreError(f"unexpected error in Cairn's core: {message} (this is a bug; set CAIRN_DEBUG=1 for details and report it)", code=code, details=details)
    if code == "PROTOCOL":
        return CoreError(f"the binding and Cairn's core do not understand each other: {message}", code=code, details=details)
    cls = _BY_CODE.get(code, CairnError)
    return cls(message, code=code, details=details)
