"""Turning what sources send (HTML, entities, odd whitespace) into plain text."""

from __future__ import annotations

import html
import re

_DROP = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
# Block-level tags end a sentence or paragraph; other tags vanish.
_BREAK = re.compile(r"</?(?:p|br|div|li|ul|ol|h[1-6]|tr|blockquote|pre)\b[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"</?[A-Za-z!][^>]*>")
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\s*\n\s*")
# Anything html_to_text would change inside a text: markup, entities, odd or doubled whitespace
# (the edges are checked apart: an end-anchored branch would be tried at every position).
_NEEDS_WORK = re.compile(r"[<&\t\r\f\v\n\u00a0]|  ")


def html_to_text(value: str) -> str:
    """Plain text from HTML: tags removed, paragraphs kept as newlines, entities decoded."""
    if not value:
        return ""
    if not (value[0].isspace() or value[-1].isspace() or _NEEDS_WORK.search(value)):
        return value
    if "<" in value:
        value = _DROP.sub(" ", value)
        value = _BREAK.sub("\n", value)
        value = _TAG.sub("", value)
    if "&" in value:
        value = html.unescape(value)
    value = _SPACES.sub(" ", value)
    return _BLANK_LINES.sub("\n", value).strip()
