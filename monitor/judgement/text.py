"""Turning what sources send (HTML, entities, odd whitespace) into plain text."""

from __future__ import annotations

import html
import re

from monitor.models import CONTROL_CHARACTERS, without_invisibles

_DROP = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
# Block-level tags end a sentence or paragraph; other tags vanish.
_BREAK = re.compile(r"</?(?:p|br|div|li|ul|ol|h[1-6]|tr|blockquote|pre)\b[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"</?[A-Za-z!][^>]*>")
# Runs of spaces and tabs that are not already one plain space (replacing each space by itself
# costs twice as much).
_SPACES = re.compile(r" [ \t\r\f\v\u00a0]+|[\t\r\f\v\u00a0][ \t\r\f\v\u00a0]*")
# Anything html_to_text would change inside a text: markup, entities, odd or doubled whitespace
# (the edges are checked apart: an end-anchored branch would be tried at every position).
_NEEDS_WORK = re.compile(r"[<&\t\r\f\v\n\u00a0\x00-\x08\x0e-\x1f\x7f-\x9f\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2069"
                         r"\ufeff]|  ")
# Control characters and bidirectional overrides/isolates: a post may not repaint a terminal or
# reorder what a reader sees (models' one set).
_CONTROLS = CONTROL_CHARACTERS


def html_to_text(value: str) -> str:
    """Plain text from HTML: tags removed, paragraphs kept as newlines, entities decoded,
    control and bidirectional-override characters dropped."""
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
    value = without_invisibles(value)
    value = _SPACES.sub(" ", value)
    if "\n" in value:  # lines without their edge whitespace, blank ones dropped
        value = "\n".join(filter(None, (line.strip() for line in value.split("\n"))))
    return value.strip()


_NAME_NEEDS_WORK = re.compile(r"[&\n\t\x00-\x08\x0e-\x1f\x7f-\x9f\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")


def plain_name(value: str) -> str:
    """An author's name as people read it: entities decoded (``&lt;!here&gt;`` is ``<!here>``),
    on one line, without control characters."""
    if not value or not _NAME_NEEDS_WORK.search(value):
        return value or ""
    if "&" in value:
        value = html.unescape(value)
    if _CONTROLS.search(value) or "\u200d" in value or "\n" in value or "\t" in value:
        value = " ".join(without_invisibles(value).split())
    return value


def text_key(title: str | None, text: str | None) -> str:
    """What makes two posts the same text for a person labelling them: their words, lower-cased,
    numbers and punctuation aside ("outage #12" and "Outage #13" are one)."""
    return " ".join(re.findall(r"[^\W\d_]+", f"{title or ''} {text or ''}".lower()))
