"""Formatting shared by the reprs and the notebook tables."""

from __future__ import annotations

import datetime as _datetime
import html
import math
from typing import Any, Iterable, List, Optional, Sequence


def short_id(value: Optional[str]) -> str:
    return value[:7] if value else "-"


def number(value: Any) -> str:
    """Metric values as the CLI shows them: 4 significant digits, NaN, inf, -inf."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return f"{value:.4g}"
    return str(value)


def metrics(values: dict) -> str:
    return ", ".join(f"{name}={number(value)}" for name, value in values.items())


def when(value: Optional[_datetime.datetime]) -> str:
    if value is None:
        return "-"
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], caption: Optional[str] = None) -> str:
    """An HTML table for ``_repr_html_``; every cell is escaped."""
    parts: List[str] = ["<table>"]
    if caption:
        parts.append(f"<caption style='text-align:left'>{html.escape(caption)}</caption>")
    parts.append("<thead><tr>" + "".join(f"<th style='text-align:left'>{html.escape(str(h))}</th>" for h in headers) + "</tr></thead><tbody>")
    for row in rows:
        parts.append("<tr>" + "".join(f"<td style='text-align:left'>{html.escape(str(cell))}</td>" for cell in row) + "</tr>")
    parts.append("</tbody></table>")
    return "".join(parts)


def params(values: Any, limit: int = 80) -> str:
    if isinstance(values, dict):
        text = ", ".join(f"{key}={value!r}" for key, value in values.items())
    else:
        text = repr(values)
    return text if len(text) <= limit else text[: limit - 1] + "…"
