"""The plain-feed reader (RSS 2.0 and Atom) against feedparser itself: every document it
accepts, recorded or generated, gives feedparser's entries (key for key, in feedparser's order), the same dates, the
same feed language and the same mentions; and what it does not accept goes to feedparser."""

from __future__ import annotations

import random
from xml.sax.saxutils import escape

import pytest

from connectors import plain_feed, rss
from tests.support import FIXTURES, NOW, SHARED

URL = "https://feeds.example/path/feed.xml"


def both_ways(body: bytes, headers: dict) -> tuple[list, list] | None:
    """The mentions and the entries from the plain reader and from feedparser, or None when
    the plain reader declines the document."""
    plain = plain_feed.entries(body, url=URL, headers=headers)
    if plain is None:
        return None
    warnings: list[str] = []
    entries, language, _ = rss._parsed(body, where=URL, source="s", url=URL, headers=headers, warnings=warnings)
    assert not warnings, "the plain reader accepted a document feedparser reads with a warning"
    assert rss._language(plain[1]) == language
    theirs = [(list(rss.given(e).items()), dict(e).get("published_parsed")) for e in entries]
    ours = [(list(rss.given(e).items()), e.get("published_parsed")) for e in plain[0]]
    assert ours == theirs
    made = rss.parse_feed(body, source="s", url=URL, headers=headers, now=NOW)
    expected = [rss._entry_mention(e, source="s", now=NOW, feed_language=language) for e in entries]
    assert made == [m for m in expected if m is not None], "an empty entry is skipped either way"
    return ours, made


# The pieces a generated feed is made of: what real feeds put in each field, and what trips
# readers (entities, C1 controls, text that was UTF-8 read as Latin-1, markup, relative links).
TEXTS = ["Acme Cloud is down again", "  padded  ", "", "café crème", "Ã©tÃ© à Paris", "日本語のレビュー",
         "fish &amp; chips", "a &lt; b", "&#x85;ellipsis &#x93;quoted&#x94;", "5 &gt; 3", "emoji 🙂 ok",
         "tab\there", "line&#13;feed", "&lt;b&gt;bold&lt;/b&gt; title", "AT&amp;T &amp;amp; more", "x<!-- a comment -->y",
         "<![CDATA[cdata <i>text</i>]]>", "Q&amp;A: ‮reversed"]
HTML = ["&lt;p&gt;Acme Cloud &lt;a href=\"/p/1\"&gt;lost&lt;/a&gt; my files&lt;/p&gt;",
        "<![CDATA[<p>relative <img src=\"img.png\"> and <script>alert(1)</script></p>]]>",
        "&lt;div onclick=\"x()\"&gt;click&lt;/div&gt;&#13;&#10;next", "plain description", "tom &amp; jerry",
        "&lt;p&gt;caf\u00c3\u00a9&lt;/p&gt;", "<![CDATA[a > b & c]]>"]
LINKS = ["https://e.example/p/1", "/relative/2", "p/3?a=1&amp;b=2", "javascript:alert(1)", "", "  https://e.example/p/4  ",
         "https://e.example/p?x=1&amp;amp;y=2", "mailto:a@e.example", "//other.example/p"]
DATES = ["Mon, 23 Nov 2026 12:00:00 GMT", "Mon, 23 Nov 2026 12:00:00 +0100", "2026-11-23T12:00:00Z", "23 Nov 2026 12:00 EST",
         "yesterday", "", "Mon, 31 Feb 2026 12:00:00 GMT", "Tue, 24 Nov 26 01:02:03 PST"]
AUTHORS = ["a@e.example (Ann)", "Ann <a@e.example>", "Ann Example", "", "bob@example.co.uk", "x@[10.0.0.1]",
           "Ann (ann@e.example)", "&lt;b@e.example&gt;", "someone@exam.ple?subject=hi there"]
TYPES = [{"content-type": "application/rss+xml"}, {"content-type": "application/xml; charset=utf-8"}, {},
         {"content-type": "application/rss+xml", "content-language": "fr-BE"}, {"content-type": "text/xml"},
         {"content-type": "application/rss+xml", "content-language": "de"}, {"content-type": "application/xml", "content-language": "en_GB"},
         {"content-type": "application/xml; charset=iso-8859-1"}]


def generated(rng: random.Random) -> tuple[bytes, dict]:
    items = []
    for _ in range(rng.randint(1, 6)):
        fields = []
        if rng.random() < 0.8:
            fields.append(f"<title>{rng.choice(TEXTS)}</title>")
        if rng.random() < 0.7:
            fields.append(f"<link>{rng.choice(LINKS)}</link>")
        if rng.random() < 0.8:
            permalink = rng.choice(["", ' isPermaLink="false"', ' isPermaLink="true"', ' isPermaLink="True"'])
            fields.append(f"<guid{permalink}>{rng.choice(LINKS + ['tag:e.example,2026:1', 'abc123'])}</guid>")
        if rng.random() < 0.8:
            fields.append(f"<pubDate>{rng.choice(DATES)}</pubDate>")
        if rng.random() < 0.8:
            fields.append(f"<description>{rng.choice(HTML + TEXTS)}</description>")
        if rng.random() < 0.3:
            creator = rng.choice(["author", "dc:creator"])
            fields.append(f"<{creator}>{rng.choice(AUTHORS)}</{creator}>")
        for _ in range(rng.choice([0, 0, 1, 2, 3])):
            domain = rng.choice(["", ' domain="https://e.example/tags"', ' domain=""'])
            fields.append(f"<category{domain}>{rng.choice(['outage', 'billing', '', 'outage ', 'caf&#xe9;'])}</category>")
        if rng.random() < 0.2:
            url = rng.choice(['', ' url="https://news.example/"', ' url="https://n.example/?a=1&amp;amp;b=2"', ' url="/rel"'])
            fields.append(f"<source{url}>{rng.choice(['Example News', '', '  Le Soir  '])}</source>")
        if rng.random() < 0.1:
            fields.append(f"<comments>{rng.choice(LINKS)}</comments>")
        if rng.random() < 0.3:
            fields.append(f"<content:encoded>{rng.choice(HTML + TEXTS)}</content:encoded>")
        if rng.random() < 0.2:
            fields.append(f"<wfw:commentRss>{rng.choice(LINKS)}</wfw:commentRss><slash:comments>{rng.randint(0, 9)}</slash:comments>")
        if rng.random() < 0.03:
            fields.append(rng.choice(["<enclosure url='https://e.example/a.mp3'/>", "<title>again</title>",
                                      "<author>a</author><dc:creator>b</dc:creator>"]))
        rng.shuffle(fields)
        items.append("<item>" + "\n  ".join(fields) + "</item>")
    channel = ["<title>feed</title>", "<link>https://e.example/</link>", "<description>a feed</description>"]
    if rng.random() < 0.4:
        channel.append(f"<language>{rng.choice(['en-us', 'fr', 'de_DE', ' es '])}</language>")
    if rng.random() < 0.2:
        channel.append("<image><url>https://e.example/i.png</url><title>feed</title><link>https://e.example/</link></image>")
    if rng.random() < 0.1:
        channel.append("<ttl>60</ttl><generator>hand</generator>")
    if rng.random() < 0.3:  # WordPress's
        channel.append('<atom:link href="https://e.example/feed/" rel="self" type="application/rss+xml" />'
                       "<sy:updatePeriod>hourly</sy:updatePeriod><sy:updateFrequency>1</sy:updateFrequency>")
    declaration = rng.choice(['<?xml version="1.0" encoding="UTF-8"?>', "<?xml version='1.0'?>", "",
                              '<?xml version="1.0" encoding="iso-8859-1"?>'])
    dc = rng.choice([' xmlns:dc="http://purl.org/dc/elements/1.1/"', ' xmlns:dc="http://purl.org/dc/elements/1.1/" '
                                                                       'xmlns:media="http://search.yahoo.com/mrss/"'])
    dc += (' xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:wfw="http://wellformedweb.org/CommentAPI/"'
           ' xmlns:slash="http://purl.org/rss/1.0/modules/slash/" xmlns:atom="http://www.w3.org/2005/Atom"'
           ' xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"')
    body = f'{declaration}<rss version="2.0"{dc}><channel>{"".join(channel)}{"".join(items)}</channel></rss>'
    return body.encode("utf-8"), dict(rng.choice(TYPES))


def generated_atom(rng: random.Random) -> tuple[bytes, dict]:
    entries = []
    for _ in range(rng.randint(1, 5)):
        fields = []
        if rng.random() < 0.9:
            fields.append(f"<id>{rng.choice(['t3_1xq0a1', 'tag:google.com,2013:googlealerts/feed:123', 'https://e.example/p/1', '', '/rel/5'])}</id>")
        if rng.random() < 0.9:
            kind = rng.choice(["", ' type="text"', ' type="html"', ' type="HTML"', ' type="xhtml"'])
            fields.append(f"<title{kind}>{rng.choice(TEXTS)}</title>")
        for _ in range(rng.choice([0, 1, 1, 2])):
            rel = rng.choice(["", ' rel="alternate"', ' rel="self"', ' rel="enclosure" type="audio/mpeg"', ' rel="Alternate"',
                              ' type="text/html"', ' rel="related" title="x"'])
            fields.append(f'<link href="{rng.choice([l for l in LINKS if l.strip()])}"{rel}/>')
        for name in ("updated", "published"):
            if rng.random() < 0.7:
                fields.append(f"<{name}>{rng.choice(DATES + ['2026-11-23T10:40:00+00:00'])}</{name}>")
        if rng.random() < 0.6:
            kind = rng.choice(["", ' type="html"', ' type="text"'])
            fields.append(f"<content{kind}>{rng.choice(HTML + TEXTS)}</content>")
        if rng.random() < 0.4:
            kind = rng.choice(["", ' type="html"'])
            fields.append(f"<summary{kind}>{rng.choice(HTML + TEXTS)}</summary>")
        if rng.random() < 0.7:
            person = [f"<name>{rng.choice(['/u/ops_grump', ' Status Team ', '', 'caf&#xe9;', 'Ã©tÃ©', '&#x93;Q&#x94;'])}</name>"]
            if rng.random() < 0.5:
                person.append(f"<uri>{rng.choice(['https://www.reddit.com/user/ops_grump', '/user/x', ''])}</uri>")
            if rng.random() < 0.3:
                person.append(f"<email>{rng.choice(['a@e.example', 'not an email'])}</email>")
            rng.shuffle(person)
            fields.append("<author>" + "\n".join(person) + "</author>")
        for _ in range(rng.choice([0, 0, 1, 2])):
            attrs = rng.choice([' term="sysadmin" label="r/sysadmin"', ' term="x" scheme="https://e.example/s"', ' label="only"',
                                ' term="sysadmin" label="r/sysadmin"', ""])
            fields.append(f"<category{attrs}/>")
        if rng.random() < 0.05:
            fields.append(rng.choice(['<media:thumbnail xmlns:media="http://search.yahoo.com/mrss/" url="https://e.example/t.png"/>',
                                      "<title>again</title>", '<content src="https://e.example/x"/>']))
        rng.shuffle(fields)
        entries.append("<entry>" + "\n  ".join(fields) + "</entry>")
    head = ["<title>feed</title>", "<id>tag:e.example,2026:feed</id>", "<updated>2026-11-23T10:00:00Z</updated>",
            '<link href="https://e.example/" rel="alternate"/>']
    if rng.random() < 0.3:
        head.append('<category term="sysadmin" label="r/sysadmin"/><icon>https://e.example/i.png</icon><subtitle>s</subtitle>')
    if rng.random() < 0.2:
        head.append("<author><name>Feed Team</name></author>")
    lang = rng.choice(["", "", ' xml:lang="en"', ' xml:lang="fr-BE"', ' xml:lang=""'])
    body = f'<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom"{lang}>{"".join(head)}{"".join(entries)}</feed>'
    kind = rng.choice([{"content-type": "application/atom+xml"}, {"content-type": "application/atom+xml", "content-language": "de"},
                       {"content-type": "application/xml; charset=UTF-8"}])
    return body.encode("utf-8"), dict(kind)


@pytest.mark.parametrize("make, seed", [(generated, 2026), (generated_atom, 7)], ids=["rss", "atom"])
def test_generated_feeds_read_as_feedparser_reads_them(make, seed: int) -> None:
    rng = random.Random(seed)
    accepted = 0
    for _ in range(1000):
        body, headers = make(rng)
        if both_ways(body, headers) is not None:
            accepted += 1
    assert 150 < accepted < 1000, f"{accepted} of 1,000 documents taken by the plain reader: the generator no longer tests it"


def test_recorded_feeds_read_as_feedparser_reads_them() -> None:
    recorded = (SHARED / "fixtures").is_dir()  # the real APIs' recordings, beside the repository in CI
    feeds = [p for folder in (FIXTURES, SHARED / "fixtures") for p in sorted(folder.rglob("*.xml"))]
    assert len(feeds) >= (10 if recorded else 6)
    plain = {feed.name for feed in feeds if both_ways(feed.read_bytes(), {"content-type": "application/rss+xml"})}
    declined = [feed for feed in feeds if feed.name not in plain]
    assert len(plain) >= (10 if recorded else 5), "Google News, Discourse, WordPress, Reddit's Atom and ours are plain"
    assert declined and all(any(ns in feed.read_bytes() for ns in (b"xmlns:yt=", b"xmlns:media=", b"xmlns:im="))
                            for feed in declined), "only feeds with extension fields (YouTube's, the App Store's) go to feedparser"


@pytest.mark.parametrize("body", [
    b'<rss version="2.0"><channel><item><title>a</title><media:thumbnail xmlns:media="http://search.yahoo.com/mrss/"'
    b' url="https://e.example/t.png"/></item></channel></rss>',
    b'<rss version="2.0"><channel><item><title>a</title><author>x</author><author>y</author></item></channel></rss>',
    b'<rss version="2.0"><channel><ttl base="https://other.example/">5</ttl><item><link>p</link></item></channel></rss>',
    b'<rss version="2.0"><channel xml:base="https://other.example/"><item><link>p</link></item></channel></rss>',
    b'<rss version="2.0"><channel><item><title>&lt;b&gt;bold&lt;/b&gt;</title></item></channel></rss>',
    b'<!DOCTYPE rss [<!ENTITY x "y">]><rss version="2.0"><channel><item><title>&x;</title></item></channel></rss>',
    b'<rss version="2.0"><channel><item><title>cut off',
    b'<rss version="2.0"><channel><item><title>a &nbsp; b</title></item></channel></rss>',
    b'<rss version="2.0"><channel><item><enclosure url="https://e.example/a.mp3"/></item></channel></rss>',
    b'<rss version="2.0"><channel></channel></rss>',
    b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>1</id><content type="xhtml"><div xmlns="http://www.w3.org/1999/'
    b'xhtml">x</div></content></entry></feed>',
    b'<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://other.example/"><entry><id>1</id></entry></feed>',
    '<?xml version="1.0" encoding="windows-1252"?><rss version="2.0"><channel><item><title>caf\xe9</title></item>'
    '</channel></rss>'.encode("cp1252"),
])
def test_what_is_not_plain_goes_to_feedparser(body: bytes) -> None:
    """A namespace, a base, a title of HTML, a DTD, a cut-off or ill-formed document, another
    element, no item, Atom's XHTML or base, another encoding: declined, and feedparser reads it as before."""
    assert plain_feed.entries(body, url=URL, headers={"content-type": "application/rss+xml"}) is None


def test_a_plain_feed_is_read_to_the_same_mentions_as_a_person_sees_them() -> None:
    body = ("""<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>t</title><language>fr-BE</language>
      <item><title>Acme Cloud: panne &amp; remboursement</title><link>/p/1</link><guid isPermaLink="false">42</guid>
      <pubDate>Mon, 23 Nov 2026 12:00:00 +0100</pubDate><description>%s</description></item></channel></rss>"""
            % escape('<p>Encore <a href="/x">une panne</a><script>alert(1)</script></p>')).encode()
    ours, made = both_ways(body, {"content-type": "application/rss+xml"})
    mention = made[0]
    assert mention.id == "42" and mention.url == "https://feeds.example/p/1" and mention.language == "fr"
    assert mention.title == "Acme Cloud: panne & remboursement"
    assert mention.text == '<p>Encore <a href="https://feeds.example/x">une panne</a></p>', "resolved and sanitised"
    assert mention.published_at.isoformat() == "2026-11-23T11:00:00+00:00"


def test_a_wordpress_feed_gives_the_whole_post_sanitised() -> None:
    """WordPress's full text (``content:encoded``) is the mention's text, its markup sanitised and
    its links made absolute as feedparser does; the guid that is not a permalink kept as given."""
    _, made = both_ways((FIXTURES / "wordpress.rss.xml").read_bytes(), {"content-type": "application/rss+xml; charset=UTF-8"})
    post = made[0]
    assert post.id == "https://notes.example/?p=1187" and post.author_name == "Dana K" and post.language == "en"
    assert "closed our ticket twice without an answer" in post.text and 'href="https://feeds.example/services/"' in post.text
    assert "script" not in post.text and "onerror" not in post.text
    assert [t["term"] for t in post.raw["tags"]] == ["Hosting", "Outages"] and post.raw["slash_comments"] == "4"
