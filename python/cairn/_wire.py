"""Values to and from the core's protocol (docs/PYTHON-PROTOCOL.md).

JSON has no NaN or infinities, so on the wire every non-finite number is the object
``{"$number": "NaN" | "Infinity" | "-Infinity"}``, in both directions. Params and metrics given
as numpy scalars or 0-d torch tensors become Python numbers through their ``.item()``, without
importing numpy or torch.
"""

from __future__ import annotations

import datetime as _datetime
import json
import math
import numbers
import os
from typing import Any, Dict, Optional

from .errors import InvalidArgumentError

_TAG = "$number"
_SPECIAL = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _tag(value: float) -> Any:
    if math.isfinite(value):
        return value
    return {_TAG: "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")}


def encode_line(message: Dict[str, Any]) -> bytes:
    """One request as a line of JSON. Values must already be converted (``to_json``)."""
    return (json.dumps(message, allow_nan=False, separators=(",", ":")) + "\n").encode("utf-8")


def _untag(obj: Dict[str, Any]) -> Any:
    if len(obj) == 1 and _TAG in obj and obj[_TAG] in _SPECIAL:
        return _SPECIAL[obj[_TAG]]
    return obj


def decode_line(line: bytes) -> Any:
    """Parses one response line, turning tagged numbers back into floats."""
    return json.loads(line.decode("utf-8"), object_hook=_untag)


def _describe(value: Any) -> str:
    kind = type(value)
    name = kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def _scalar(value: Any) -> Any:
    """numpy scalars and one-element tensors answer ``.item()`` with a Python number."""
    item = getattr(value, "item", None)
    if callable(item) and not isinstance(value, (str, bytes, dict, list, tuple)):
        try:
            return item()
        except Exception:  # noqa: BLE001 - e.g. a tensor with several elements
            return value
    return value


def to_json(value: Any, where: str, *, arrays: bool = True, _seen: Optional[set] = None) -> Any:
    """
    Converts ``value`` into what ``json.dumps`` can carry: numpy scalars and 0-d tensors through
    ``.item()``, arrays through ``.tolist()`` (when ``arrays``), tuples into lists, paths into
    strings, non-finite floats tagged. Anything else that JSON cannot hold raises
    ``InvalidArgumentError`` naming the place (``params.optimizer``).
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return _tag(float(value))
    seen = _seen if _seen is not None else set()
    if isinstance(value, (dict, list, tuple)):
        if id(value) in seen:
            raise InvalidArgumentError(f"{where} is a circular reference, which JSON cannot hold.")
        seen.add(id(value))
        try:
            if isinstance(value, dict):
                out = {}
                for key, item in value.items():
                    if not isinstance(key, str):
                        raise InvalidArgumentError(f"{where} has the key {key!r} ({_describe(key)}); keys must be strings.")
                    out[key] = to_json(item, f"{where}.{key}" if key.isidentifier() else f"{where}[{key!r}]", arrays=arrays, _seen=seen)
                return out
            return [to_json(item, f"{where}[{index}]", arrays=arrays, _seen=seen) for index, item in enumerate(value)]
        finally:
            seen.discard(id(value))
    converted = _scalar(value)
    if converted is not value:
        return to_json(converted, where, arrays=arrays, _seen=seen)
    if arrays and callable(getattr(value, "tolist", None)):
        return to_json(value.tolist(), where, arrays=arrays, _seen=seen)
    if isinstance(value, numbers.Real):
        return _tag(float(value))
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise InvalidArgumentError(
        f"{where} is {_describe(value)}, which JSON cannot hold. Use numbers, strings, booleans, None, lists and dicts (convert it to a string or a dict first)."
    )


def metrics_to_json(metrics: Any) -> Any:
    """
    Metrics for the core: each value through ``.item()`` when it has one, numbers as floats or
    ints. Wrong types that JSON can carry (a string, a list) go to the core as they are, so that
    its message is the one raised; others fail here with the same advice.
    """
    if metrics is None:
        return None
    if not isinstance(metrics, dict):
        if hasattr(metrics, "keys") and hasattr(metrics, "__getitem__"):
            metrics = {key: metrics[key] for key in metrics.keys()}
        else:
            return to_json(metrics, "metrics", arrays=False)
    out = {}
    for name, value in metrics.items():
        if not isinstance(name, str):
            raise InvalidArgumentError(f"metric names must be strings; got {name!r}.")
        converted = _scalar(value)
        if isinstance(converted, (bool, str, list, dict)) or converted is None:
            out[name] = converted
        elif isinstance(converted, numbers.Real):
            out[name] = int(converted) if isinstance(converted, int) else _tag(float(converted))
        else:
            size = getattr(value, "numel", None) or getattr(value, "size", None)
            count = size() if callable(size) else size
            extra = f" with {count} elements" if isinstance(count, int) and count != 1 else ""
            raise InvalidArgumentError(f'metric "{name}" is {_describe(value)}{extra}; metrics must be single numbers (convert tensors with .item()).')
    return out


def parse_time(value: Optional[str]) -> Optional[_datetime.datetime]:
    """An ISO 8601 time from the core (``2025-01-02T03:04:05.678Z``) as an aware datetime."""
    if not value:
        return None
    text = value[:-1] + "+00:00" if value.endswith("Z") else value
    return _datetime.datetime.fromisoformat(text)
