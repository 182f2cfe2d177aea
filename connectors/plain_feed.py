"""RSS 2.0 and Atom 1.0 in their plain shapes, read in one pass of the C XML parser to the
entries feedparser would give.

On a plain feed feedparser's generic machinery (a handler lookup, a dict with key aliases, a
content stack per element) is most of ``monitor once``'s time: 96 ms for a 500-item feed
(``benchmarks/peer.py``, docs/evaluation.md). This reads the shapes most feeds of posts have:

- RSS: an ``rss`` of one ``channel`` whose items hold ``title``, ``link``, ``guid``, ``pubDate``,
  ``description``, ``author`` or ``dc:creator``, ``category``, ``source``, ``comments`` and
  WordPress's ``content:encoded``, ``wfw:commentRss`` and ``slash:comments``;
- Atom (Reddit's feeds, Google Alerts', blogs'): entries of ``id``, ``title``, ``link``,
  ``updated``, ``published``, ``content`` and ``summary`` as text or HTML, ``author`` (name, uri,
  email) and ``category``;

and builds each entry with feedparser's own steps in feedparser's order: its URI join, its HTML
resolver and sanitizer (only where the text has markup: on text without it both are the
identity), its date parsers, its repair of double-encoded UTF-8 and its Windows-1252 mapping, and
its quirks (an Atom id joined to the base like a permalink, an author's uri kept as ``href``).
Anything outside the shape (another namespace or attribute, XHTML content, ``xml:base``, a title
of HTML in RSS, a DTD, an encoding other than UTF-8, a document that is not well-formed) returns
None and feedparser reads the document. ``tests/test_plain_feed.py`` holds every document this
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
ATOM = "{http://www.w3.org/2005/Atom}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
# An Atom entry's elements read here and the attributes each may carry; a feed's own elements
# (they change nothing feedparser keeps of an entry).
ATOM_FIELDS = {"id": set(), "title": {"type"}, "link": {"href", "rel", "type", "title", "hreflang", "length"},
               "updated": set(), "published": set(), "content": {"type"}, "summary": {"type"}, "author": set(),
               "category": {"term", "scheme", "label"}}
ATOM_FEED = frozenset({"title", "subtitle", "id", "updated", "icon", "logo", "rights", "generator", "link", "category",
                       "author"})
PERSON = frozenset({"name", "uri", "email"})
# Atom's text types as feedparser maps them (``map_content_type``): plain text or HTML; XHTML is left to it.
TEXT_TYPES = {"text": "text/plain", "plain": "text/plain", "text/plain": "text/plain", "html": "text/html",
              "text/html": "text/html"}


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
    base = make_safe_absolute_uri(url, url) or url  # feedparser's base: the URL joined with itself
    language = headers.get("content-language")
    if root.tag == ATOM + "feed":
        return _atom(root, base, language)
    if root.tag != "rss" or set(root.attrib) - {"version"} or len(root) != 1 or root[0].tag != "channel" or root[0].attrib:
        return None
    out: list[dict] = []
    for child in root[0]:
        tag = _name(child.tag)
        if tag is None:
            return None
        if tag in CHANNEL_EXTRAS:
            if len(child) or _rebases(child):
                return None
            continue
        if tag == "item":
            entry = _entry(child, base, headers.get("content-language"))  # (the header's: see _entry)
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
        elif ":" in tag or len(child) or _rebases(child):
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


def _atom_name(tag: object) -> str | None:
    """An Atom element's local name, None for anything else."""
    return tag[len(ATOM):] if isinstance(tag, str) and tag.startswith(ATOM) else None


def _rebases(element: ET.Element) -> bool:
    """Whether an attribute of ``element`` is namespaced or sets a base or language, which
    feedparser would carry into what follows."""
    return any("{" in name or name.lower() in ("base", "lang") for name in element.attrib)


def _atom(root: ET.Element, base: str, header_language: str | None) -> tuple[list[dict], str | None] | None:
    """An Atom 1.0 feed's entries as feedparser gives them, and its language; None when any part
    is outside the plain shape."""
    if set(root.attrib) - {XML_LANG} or root.get(XML_LANG) == "":
        return None  # (an xml:lang="" is none for the entries, and the header's for the feed)
    language = root.get(XML_LANG, header_language) or None
    if language and "_" in language:
        return None
    out: list[dict] = []
    for child in root:
        local = _atom_name(child.tag)
        if local is None:
            return None
        if local == "entry":
            entry = _atom_entry(child, base, language)
            if entry is None:
                return None
            out.append(entry)
        elif local not in ATOM_FEED or _rebases(child) or any(
                local != "author" or _atom_name(c.tag) not in PERSON or len(c) or c.attrib for c in child):
            return None
    return (out, language) if out else None


def _atom_entry(element: ET.Element, base: str, language: str | None) -> dict | None:
    """One Atom entry as feedparser's entry, its keys in feedparser's order (less ``guidislink``)."""
    if element.attrib:
        return None
    entry: dict = {}
    seen: set[str] = set()
    has_content = False
    for field in element:
        local = _atom_name(field.tag)
        allowed = ATOM_FIELDS.get(local)
        if allowed is None or set(field.attrib) - allowed or (local in seen and local not in ("link", "category")):
            return None
        seen.add(local)
        if local == "author":
            if not _atom_author(entry, field, base):
                return None
            continue
        if len(field):
            return None
        raw = field.text
        if local == "id":  # feedparser reads an Atom id as a guid that is a permalink: joined, and the link until one comes
            entry["id"] = value = _text(raw, base, uri=True)
            entry.setdefault("link", value)
        elif local in ("title", "summary", "content"):
            kind = TEXT_TYPES.get(field.get("type", "text/plain").lower())
            if kind is None:
                return None
            value = _text(raw, base, html=kind == "text/html")
            if local == "title":
                entry["title"] = value
            elif local == "summary":
                if "summary" in entry and not has_content:
                    return None  # (feedparser would read this one as content)
                entry["summary"] = value
            else:
                has_content = True
                entry.setdefault("content", []).append({"type": kind, "language": language, "base": base, "value": value})
                entry.setdefault("summary", value)
        elif local == "link":
            attributes = {name.lower(): (value.lower() if name.lower() in ("rel", "type") else value)
                          for name, value in field.attrib.items()}
            if not attributes.get("href") or (raw or "").strip():
                return None
            attributes.setdefault("rel", "alternate")
            attributes.setdefault("type", "application/atom+xml" if attributes["rel"] == "self" else "text/html")
            attributes["href"] = _urljoin(base, attributes["href"])
            entry.setdefault("links", []).append(attributes)
            if attributes["rel"] == "alternate" and attributes["type"] in ("text/html", "application/xhtml+xml"):
                entry["link"] = attributes["href"]
        elif local in ("updated", "published"):
            entry[local] = value = _text(raw, base)
            entry[local + "_parsed"] = _parse_date(value)
        else:  # category: its attributes are the tag
            if (raw or "").strip():
                return None
            tags = entry.setdefault("tags", [])
            term, scheme, label = field.get("term"), field.get("scheme"), field.get("label")
            if term or scheme or label:
                _tag(tags, {"term": term, "scheme": scheme, "label": label})
    return entry


def _atom_author(entry: dict, author: ET.Element, base: str) -> bool:
    """feedparser's reading of an Atom person (``_start_author`` … ``_end_author``): the name, uri
    and email into ``author_detail`` and ``authors``, the uri also as the entry's ``href``, and
    ``author`` as the name (with the email)."""
    if author.attrib or (author.text or "").strip() or any((c.tail or "").strip() for c in author):
        return False
    entry.setdefault("authors", []).append({})
    seen = set()
    for child in author:
        local = _atom_name(child.tag)
        if local not in PERSON or local in seen or len(child) or child.attrib:
            return False
        seen.add(local)
        if local == "uri":
            key, value = "href", _text(child.text, base, uri=True)
            entry["href"] = value
        else:
            key, value = local, (child.text or "").strip()  # read without its text steps (feedparser's push(..., 0))
        entry.setdefault("author_detail", {})[key] = value
        _sync_author(entry)
        entry["authors"][-1][key] = value
    entry["author"] = ""
    _sync_author(entry)
    return True


def _sync_author(entry: dict) -> None:
    """feedparser's ``_sync_author_detail``: ``author`` from the person's detail read so far; with
    none, the detail from ``author``'s text (an address in it, by feedparser's own pattern, is the
    email and the rest the name)."""
    detail = entry["authors"][-1]
    if detail:
        name, email = detail.get("name"), detail.get("email")
        if name and email:
            entry["author"] = f"{name} ({email})"
        elif name:
            entry["author"] = name
        elif email:
            entry["author"] = email
        return
    author, email = entry.get("author"), None
    if not author:
        return
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
    which ``rss.given`` drops). ``language``: the response's, which feedparser gives content (the
    channel's ``language`` element names the feed's alone)."""
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
    """feedparser's author of one element of text (``_start_author`` … ``_end_author``)."""
    entry["authors"] = [{}]
    entry["author"] = author
    _sync_author(entry)


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
