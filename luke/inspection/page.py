"""The parts both HTML reports are made of: one self-contained document (inline CSS, images as data: URIs,
no script, nothing fetched), tables, figures, and the atomic write of the file."""

from __future__ import annotations

import base64
import os
import tempfile
from collections.abc import Iterable, Sequence
from html import escape
from pathlib import Path
from typing import Any

STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px auto; max-width: 1180px;
       color: #222; padding: 0 16px; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 18px; margin-top: 32px; border-bottom: 1px solid #ddd; }
.meta { color: #666; }
table { border-collapse: collapse; margin: 8px 0; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
table.wide { table-layout: fixed; width: 100%; } table.wide td { overflow-wrap: anywhere; }
th { background: #f4f4f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.ok { color: #137333; } .fail { color: #b3261e; font-weight: 600; } .differs { background: #fff4cc; }
.banner { padding: 8px 12px; border-radius: 6px; margin: 12px 0; }
.banner.ok { background: #e6f4ea; } .banner.fail { background: #fce8e6; }
.figures { display: flex; flex-wrap: wrap; gap: 8px; } .figures img { width: 570px; max-width: 100%; }
.side { display: flex; gap: 24px; flex-wrap: wrap; }
.row { border: 1px solid #ddd; border-radius: 6px; padding: 8px 12px; margin: 10px 0; }
.row .where { color: #666; font-size: 12px; margin-bottom: 4px; }
.row .text { white-space: pre-wrap; }
mark.mention { background: #d7e9fb; border-radius: 3px; padding: 0 2px; }
mark.mention.unk { background: #fde2c8; outline: 1px dashed #c25e00; }
mark.mention .entity { font-size: 11px; color: #1a4d80; margin-left: 3px; }
mark.mention.unk .entity { color: #c25e00; }
code, .mono { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12px; }
details { margin: 6px 0; }
"""


def document(title: str, body: Iterable[str]) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def cell(value: Any) -> str:
    """A table cell: numbers right-aligned with thousands separators, text escaped."""
    if isinstance(value, bool) or value is None:
        return f"<td>{escape(str(value))}</td>"
    if isinstance(value, int):
        return f'<td class="num">{value:,}</td>'
    if isinstance(value, float):
        return f'<td class="num">{value:.4g}</td>'
    return f"<td>{escape(str(value))}</td>"


def table(
    header: Sequence[str], rows: Iterable[Sequence[Any]], row_classes: Sequence[str] | None = None, wide: bool = False
) -> str:
    """An HTML table; items of ``rows`` that are ``Raw`` are inserted as they are (already HTML); a ``wide``
    one spans the page and wraps long values."""
    parts = [
        "<table"
        + (' class="wide"' if wide else "")
        + "><thead><tr>"
        + "".join(f"<th>{escape(h)}</th>" for h in header)
        + "</tr></thead><tbody>"
    ]
    for index, row in enumerate(rows):
        css = f' class="{row_classes[index]}"' if row_classes and row_classes[index] else ""
        parts.append(f"<tr{css}>" + "".join(v.html if isinstance(v, Raw) else cell(v) for v in row) + "</tr>")
    parts.append("</tbody></table>")
    return "".join(parts)


class Raw:
    """A table cell given as HTML."""

    def __init__(self, html: str) -> None:
        self.html = f"<td>{html}</td>"


def image(png: bytes, alt: str) -> str:
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">'


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts as dotted keys (lists kept as values)."""
    if isinstance(value, dict):
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat.update(flatten(item, f"{prefix}{key}."))
        return flat
    return {prefix[:-1]: value}


class OutputError(OSError):
    """The report could not be written (the message names the path)."""


def write_report(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same directory, renamed into place; an
    :class:`OutputError` naming ``path`` if it cannot be written."""
    try:
        if path.is_dir():
            raise IsADirectoryError(21, "it is a directory")
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as error:
        raise OutputError(f"cannot write the report to {path}: {error.strerror or error}") from error
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        raise OutputError(f"cannot write the report to {path}: {error.strerror or error}") from error
