"""RSS 2.0 in its plainest shape, read in one pass of the C XML parser to the entries feedparser
would give.

On a plain feed feedparser's generic machinery (a handler lookup, a dict with key aliases, a
content stack per element) is most of ``monitor once``'s time: 96 ms for a 500-item feed
(``benchmarks/peer.py``, docs/evaluation.md). This reads the shape most feeds of posts have — an
``rss`` of one ``channel`` whose items hold ``title``, ``link``, ``guid``, ``pubDate``, ``description``,
``author`` or ``dc:creator``, ``category``, ``source``, ``comments`` and WordPress's
``content:encoded``, ``wfw:commentRss`` and ``slash:comments`` — and builds each entry with feedparser's own steps in feedparser's order: its URI
join, its HTML resolver and sanitizer (only where the text has markup: on text without it both
are the identity), its date parsers, its repair of double-encoded UTF-8 and its Windows-1252
mapping. Anything outside the shape (a namespace, an attribute, any other element, a title that
looks like HTML, a DTD, an encoding other than UTF-8, a document that is not well-formed) returns
None and feedparser reads the document. ``tests/test_plain_rss.py`` holds every document this
accepts, recorded and generated, to feedparser's own entries.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from feedparser.datetimes import _parse_date
from feedparser.html import _cp1252
from feedparser.mixin import _FeedParserMixin
from feedparser.sanitizer import _sanitize_html
from feedparser.urls import _urljoin, make_safe_absolute_uri, resolve_relative_uris

# The namespaces of the elements read here, by feedparser's prefix for them (it matches them in lower case).
PREFIXES = {"http://purl.org/dc/elements/1.1/": "dc", "http://purl.org/rss/1.0/modules/content/": "content",
            "http://wellformedweb.org/commentapi/": "wfw", "http://purl.org/rss/1.0/modules/slash/": "slash",
            "http://www.w3.org/2005/atom": "atom", "http://purl.org/rss/1.0/modules/syndication/": "sy"}
# An item's elements read here (a namespaced one as prefix:name), and the attributes each may carry.
ITEM_FIELDS = {"title": set(), "link": set(), "guid": {"isPermaLink"}, "pubDate": set(), "description": set(),
               "author": set(), "dc:creator": set(), "source": {"url"}, "category": {"domain"}, "comments": set(),
               "content:encoded": set(), "wfw:commentrss": set(), "slash:comments": set()}
# A channel's namespaced elements that are WordPress's and change nothing feedparser keeps of an entry.
CHANNEL_EXTRAS = frozenset({"atom:link", "sy:updateperiod", "sy:updatefrequency", "sy:updatebase"})
IMAGE_FIELDS = frozenset({"title", "url", "link", "width", "height", "description"})
# Media types under which feedparser reads a UTF-8 body as UTF-8 without a note (RFC 3023 gives
# text/xml without a charset US-ASCII, which feedparser reports).
XML_TYPES = frozenset({"application/rss+xml", "application/xml", "application/atom+xml", "application/rdf+xml"})
_DECLARATION = re.compile(rb"<\?xml[^>]*>")
_ENCODING = re.compile(rb"""encoding\s*=\s*["']([^"']*)["']""")
_MARKUP = re.compile(r"[<>&\r]")
_REFERENCE = re.compile("&([A-Za-z0-9_]+);")
_EMAIL = re.compile(r"(([a-zA-Z0-9\_\-\.\+]+)@((\[[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.)|(([a-zA-Z0-9\-]+\.)+))"
                    r"([a-zA-Z]{2,4}|[0-9]{1,3})(\]?))(\?subject=\S+)?")  # feedparser's, quirks and all


def entries(body: bytes, *, url: str, headers: dict | None = None) -> tuple[list[dict], str | None] | None:
    """The feed's entries as feedparser gives them and the channel's language, or None when
    the document is not of the plain shape."""
    headers = headers or {}
    if not _plain_bytes(body, headers) or "_" in headers.get("content-language", ""):
        return None  # (feedparser rewrites an en_US language in some places and not others)
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return None
    if root.tag != "rss" or set(root.attrib) - {"version"} or len(root) != 1 or root[0].tag != "channel" or root[0].attrib:
        return None
    base = make_safe_absolute_uri(url, url) or url
    language = headers.get("content-language")
    out: list[dict] = []
    for child in root[0]:
        tag = _name(child.tag)
        if tag is None:
            return None
        if tag in CHANNEL_EXTRAS:
            if len(child) or any("{" in name or name.lower() in ("base", "lang") for name in child.attrib):
                return None
            continue
        if tag == "item":
            entry = _entry(child, base, headers.get("content-language"))
            if entry is None:
                return None
            out.append(entry)
        elif tag == "language" and not len(child) and not child.attrib:
            text = _text(child.text, base)
            if not text:
                return None
            language = text
        elif tag == "image" and not child.attrib and all(
                f.tag in IMAGE_FIELDS and not len(f) and not f.attrib for f in child):
            continue
        elif ":" in tag or len(child) or any("{" in name or name.lower() in ("base", "lang") for name in child.attrib):
            return None  # an element feedparser would read into the channel's state, or a new base or language
    return (out, language) if out else None


def _name(tag: object) -> str | None:
    """An element's name as this module knows it (``prefix:name`` in a known namespace), None when
    not an element of one of them."""
    if not isinstance(tag, str):
        return None
    if not tag.startswith("{"):
        return tag
    uri, _, local = tag[1:].partition("}")
    prefix = PREFIXES.get(uri.lower())
    return f"{prefix}:{local.lower()}" if prefix else None


def _plain_bytes(body: bytes, headers: dict) -> bool:
    """Served as XML (without a media type feedparser notes the document as suspect), UTF-8 by
    every account (no byte-order mark, the declaration and the media type agree), and no DTD
    (whose entities feedparser rewrites)."""
    kind, _, params = headers.get("content-type", "").partition(";")
    if kind.strip().lower() not in XML_TYPES:
        return False
    charset = re.search(r"charset\s*=\s*\"?([^\";\s]+)", params, re.I)
    if charset and charset.group(1).lower() != "utf-8":
        return False
    if not body.startswith(b"<") or b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        return False
    declaration = _DECLARATION.match(body)
    if declaration:
        encoding = _ENCODING.search(declaration.group())
        if encoding and encoding.group(1).lower() != b"utf-8":
            return False
    return True


def _entry(item: ET.Element, base: str, language: str | None) -> dict | None:
    """One item as feedparser's entry, its keys in feedparser's order (less ``guidislink``,
    which ``rss.given`` drops)."""
    if item.attrib:
        return None
    entry: dict = {}
    seen = set()
    for field in item:
        tag = _name(field.tag)
        allowed = ITEM_FIELDS.get(tag)
        if allowed is None or tag in seen or len(field) or set(field.attrib) - allowed:
            return None
        seen.add(tag)
        raw = field.text
        if tag == "title":
            text = (raw or "").strip()
            if _FeedParserMixin.looks_like_html(text):
                return None
            entry["title"] = _repaired(text)
        elif tag == "link":
            href = _text(raw, base, uri=True)
            href = _REFERENCE.sub(r"&\g<1>", href.replace("&amp;", "&"))
            entry["links"] = [{"rel": "alternate", "type": "text/html", **({"href": href} if href else {})}]
            entry["link"] = href
        elif tag == "guid":
            permalink = field.get("isPermaLink", "true") == "true"
            entry["id"] = value = _text(raw, base, uri=permalink)
            if permalink:
                entry.setdefault("link", value)
        elif tag == "pubDate":
            entry["published"] = value = _text(raw, base)
            entry["published_parsed"] = _parse_date(value)
        elif tag == "description":  # feedparser's summary, read as HTML
            entry["summary"] = _text(raw, base, html=True)
        elif tag in ("author", "dc:creator"):
            if "author" in entry:
                return None
            _author(entry, _text(raw, base))
        elif tag == "source":
            source = {"href": field.get("url")} if "url" in field.attrib else {}
            title = _text(raw, base)
            if title:
                source["title"] = title
            entry["source"] = source
        elif tag == "category":
            seen.discard(tag)  # an item has as many as it likes
            _category(entry.setdefault("tags", []), field.get("domain"), _text(raw, base))
        elif tag == "content:encoded":  # the post whole, as HTML; the summary too when it has none
            value = _text(raw, base, html=True)
            entry["content"] = [{"type": "text/html", "language": language, "base": base, "value": value}]
            entry.setdefault("summary", value)
        elif tag == "wfw:commentrss":
            entry["wfw_commentrss"] = _text(raw, base, uri=True)
        elif tag == "slash:comments":
            entry["slash_comments"] = _text(raw, base)
        else:  # comments: the URL of the post's comments
            entry["comments"] = _text(raw, base, uri=True)
    return entry


def _author(entry: dict, author: str) -> None:
    """feedparser's author of one element of text (``_sync_author_detail``): an address in it,
    by feedparser's own pattern, is the email and the rest the name."""
    detail: dict = {}
    entry["authors"] = [detail]
    entry["author"] = author
    if not author:
        return
    email = None
    match = _EMAIL.search(author)
    if match:
        email = match.group(0)
        author = author.replace(email, "").replace("()", "").replace("<>", "").replace("&lt;&gt;", "").strip()
        if author and author[0] == "(":
            author = author[1:]
        if author and author[-1] == ")":
            author = author[:-1]
        author = author.strip()
    if author or email:
        entry.setdefault("author_detail", detail)
    if author:
        detail["name"] = author
    if email:
        detail["email"] = email


def _category(tags: list[dict], domain: str | None, term: str) -> None:
    """feedparser's tags from a ``category`` (``_start_category``, ``_end_category``)."""
    if domain:
        _tag(tags, {"term": None, "scheme": domain, "label": None})
    if term:
        if tags and not tags[-1]["term"]:
            tags[-1]["term"] = term
        else:
            _tag(tags, {"term": term, "scheme": None, "label": None})


def _tag(tags: list[dict], tag: dict) -> None:
    if tag not in tags:
        tags.append(tag)


def _text(raw: str | None, base: str, *, uri: bool = False, html: bool = False) -> str:
    """feedparser's ``pop`` for an element of text: stripped, joined to the base when a URI,
    resolved and sanitised when HTML, then repaired."""
    text = (raw or "").strip()
    if uri and text:
        text = _urljoin(base, text)
    if html and _MARKUP.search(text):
        text = resolve_relative_uris(text, base, "utf-8", "text/html")
        text = _sanitize_html(text, "utf-8", "text/html")
    return _repaired(text)


def _repaired(text: str) -> str:
    """UTF-8 that was read as Latin-1 and encoded again decoded once more, then Windows-1252's
    characters where C1 controls stand: feedparser's last two steps for every text."""
    try:
        text = text.encode("iso-8859-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        pass
    return text.translate(_cp1252)
