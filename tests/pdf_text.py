"""The text drawn on a reportlab PDF's pages, for tests (no PDF library needed)."""

from __future__ import annotations

import base64
import re
import zlib
from pathlib import Path

_CONTENT = re.compile(rb"/Filter \[ /ASCII85Decode /FlateDecode \][^>]*>>\s*stream\r?\n"
                      rb"(.*?)endstream", re.S)


def pdf_text(path: Path) -> str:
    """The strings of every page's content stream, one drawn line per text line.

    reportlab writes page content ASCII85- and Flate-encoded and draws each line with one
    ``(text) Tj``; escaped characters are unescaped.
    """
    lines = []
    for match in _CONTENT.finditer(path.read_bytes()):
        encoded = match.group(1).strip().removesuffix(b"~>")
        content = zlib.decompress(base64.a85decode(encoded))
        for text in re.findall(rb"\(((?:[^()\\]|\\.)*)\)\s*Tj", content):
            lines.append(re.sub(rb"\\(.)", rb"\1", text).decode("latin-1"))
    return "\n".join(lines)
