"""``monitor demo``: the real pipeline over bundled sample posts, served from 127.0.0.1.

Nothing leaves the machine: a local HTTP server plays a review blog's RSS feed, the Hacker
News search API and a Google News search, and the real connectors, HTTP client, scorer, store and console receiver run
against it, into a separate database.
"""

from __future__ import annotations

import json
import math
import random
import threading
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

# (minutes ago, author, title, HTML text) for the review blog's feed.
FEED_POSTS = [
    (35, "dana.k", "Acme Cloud lost three days of our data",
     "<p>We have been customers for four years. Last week Acme Cloud deleted our backups, support closed the "
     "ticket twice and nobody called back. This is the worst, most infuriating experience I have ever had "
     "with a vendor. We are cancelling and moving everything elsewhere. Never again!!</p>"),
    (80, "sam.p", "Why our team loves Acme Cloud",
     "<p>Setup took ten minutes, the dashboard is great and support answered in an hour. Brilliant product, "
     "highly recommended.</p>"),
    (120, "news desk", "Acme Cloud opens a region in Frankfurt",
     "<p>The company said the region will be available to customers from March.</p>"),
    (150, "lee", "Ten tips for sourdough", "<p>Nothing to do with any brand.</p>"),
]

# (minutes ago, id, kind, author, points, title, HTML text) for the Hacker News search API.
HN_HITS = [
    (20, "41000001", "story", "throwaway_ops", 240, "Acme Cloud outage took our production down for 9 hours",
     "Status page was green the whole time. Terrible communication, angry customers, and no refund. "
     "Awful."),
    (50, "41000002", "comment", "pg_fan", None, "Ask HN: Which cloud do you use?",
     "We moved to Acme Cloud last year and it has been fantastic &amp; cheap. Great support, too."),
    (90, "41000003", "comment", "jdoe", None, "Ask HN: Which cloud do you use?",
     "Acme Cloud billing is fine I guess."),
]

# (minutes ago, id, headline, publisher) for a Google News search: the press, not customers.
NEWS = [
    (45, "CBMiDemoOutage", "Acme Cloud outage disrupts thousands of businesses", "The Daily Byte"),
    (200, "CBMiDemoRegion", "Acme Cloud opens new Frankfurt region", "Cloud Weekly"),
]

SOURCES = ("forum", "review-blog", "hackernews", "news")  # the history's source, then the config's

DEMO_CONFIG = """\
contact: demo@example.invalid
brands:
  - name: Acme Cloud
    keywords: ['"Acme Cloud"']
    exclude: ['"Acme Cloud Fan Club"']
  - name: Globex Cloud
    keywords: ['"Globex Cloud"']
    competitor: true  # share of voice: watched and stored, never alerted on
sources:
  - name: review-blog
    type: rss
    url: {base}/feed.xml
    every: 10m
  - name: hackernews
    type: hackernews
    base_url: {base}/api/v1
    every: 10m
  - name: news  # Google News: the press (sources[].press), stored as coverage, never an assassin
    type: googlenews
    base_url: {base}
    every: 10m
receivers:
  - name: console
    type: console
alerts:
  buckets: [assassin]
  # The demo alerts on its sample backlog (and the storm two days ago); a real first run
  # stores the backlog quietly.
  backfill: 3d
"""


# Two weeks of ordinary chatter on a community forum, then a storm two days ago: what the spike
# watch and `monitor backtest` have to find. (A fixed seed: every demo tells the same story.)
CHATTER = [
    "Anyone using Acme Cloud for static sites?", "Acme Cloud dashboard update looks nice",
    "Moved our staging to Acme Cloud, smooth so far", "How does Acme Cloud pricing compare?",
    "Acme Cloud docs on backups are decent", "Is Acme Cloud available in Asia yet?",
    "Acme Cloud support answered quickly today, thanks", "Trying Acme Cloud functions this weekend",
]
STORM = [
    "Acme Cloud is down again, our checkout is broken and support is useless",
    "Third Acme Cloud outage this month, I want a refund",
    "Acme Cloud lost our database during the outage, cancelling today",
    "Still waiting for Acme Cloud to answer, please help, production is down",
    "Acme Cloud outage: no status update for two hours, unacceptable",
]


RIVAL = [  # a competitor's chatter on the same forum: share of voice
    "Globex Cloud pricing went up again", "Globex Cloud support was helpful today, great team",
    "Anyone moving from Globex Cloud to Acme Cloud?", "Globex Cloud had a short outage this morning, annoying",
    "Globex Cloud console is slow but fine", "Happy with Globex Cloud so far, excellent uptime",
]


def history(now: datetime, source: str = "forum") -> list[dict]:
    """Sample forum posts for the last 14 days: ~6 an hour by day, fewer at night, and a
    two-hour storm of complaints two days ago; and a competitor's quieter chatter."""
    rng = random.Random(7)
    posts = []
    start = now - timedelta(days=14)
    for hour in range(14 * 24):
        at = start + timedelta(hours=hour)
        rate = 1 + 5 * max(0.0, math.sin(math.pi * (at.hour - 6) / 16)) if 6 <= at.hour < 22 else 1
        for _ in range(rng.randint(0, round(2 * rate))):
            posts.append({"at": at + timedelta(minutes=rng.uniform(0, 60)), "text": rng.choice(CHATTER)})
    storm = now - timedelta(days=2, hours=3)
    for i in range(240):
        posts.append({"at": storm + timedelta(minutes=rng.uniform(0, 120)), "text": rng.choice(STORM) + f" #{i}"})
    ours = [{**post, "id": f"{source}-{n}", "author": f"user{n % 97}"} for n, post in enumerate(sorted(posts, key=lambda p: p["at"]))]
    rival = random.Random(11)
    theirs = [{"at": start + timedelta(minutes=rival.uniform(0, 14 * 24 * 60)), "text": rival.choice(RIVAL)} for _ in range(420)]
    return ours + [{**post, "id": f"{source}-g{n}", "author": f"user{(n * 7) % 97}"}
                   for n, post in enumerate(sorted(theirs, key=lambda p: p["at"]))]


def render_feed(now: datetime) -> bytes:
    """The sample review blog as RSS 2.0."""
    items = []
    for i, (ago, author, title, html) in enumerate(FEED_POSTS):
        when = format_datetime(now - timedelta(minutes=ago))
        items.append(
            f"<item><title>{escape(title)}</title><link>https://reviews.example/post/{i}</link>"
            f"<guid>https://reviews.example/post/{i}</guid><author>{escape(author)}</author>"
            f"<pubDate>{when}</pubDate><description>{escape(html)}</description></item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Cloud Reviews</title>'
        "<link>https://reviews.example/</link><language>en</language><description>Sample feed</description>"
        + "".join(items) + "</channel></rss>"
    ).encode()


def render_news(now: datetime) -> bytes:
    """The sample Google News search, as its RSS reads: "Headline - Publisher" through a redirect link."""
    items = "".join(
        f"<item><title>{escape(title)} - {escape(publisher)}</title><link>https://news.google.com/rss/articles/{ident}</link>"
        f'<guid isPermaLink="false">{ident}</guid><pubDate>{format_datetime(now - timedelta(minutes=ago))}</pubDate>'
        f'<description>{escape(title)}</description><source url="https://{publisher.lower().replace(" ", "")}.example">'
        f"{escape(publisher)}</source></item>"
        for ago, ident, title, publisher in NEWS)
    return ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>"Acme Cloud" - Google News</title>'
            f"<link>https://news.google.com/</link><description>Google News</description>{items}</channel></rss>").encode()


def render_hits(now: datetime, since: int = 0) -> bytes:
    """The sample Hacker News search page, as Algolia returns it."""
    hits = []
    for ago, ident, kind, author, points, title, text in HN_HITS:
        created = int((now - timedelta(minutes=ago)).timestamp())
        if created < since:
            continue
        story = kind == "story"
        hits.append({
            "objectID": ident, "author": author, "created_at_i": created,
            "created_at": datetime.fromtimestamp(created, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "title": title if story else None, "story_title": None if story else title,
            "story_text": text if story else None, "comment_text": None if story else text,
            "points": points, "num_comments": 57 if story else None, "url": None,
            "_tags": [kind, f"author_{author}", f"story_{ident}"],
        })
    return json.dumps({"hits": hits, "nbHits": len(hits), "page": 0, "nbPages": 1, "hitsPerPage": 100}).encode()


@contextmanager
def serve(now: datetime) -> Iterator[str]:
    """Serve the sample data on 127.0.0.1 (a free port) and yield its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            url = urlsplit(self.path)
            if url.path == "/feed.xml":
                body, kind = render_feed(now), "application/rss+xml"
            elif url.path == "/rss/search":
                body, kind = render_news(now), "application/rss+xml"
            elif url.path == "/api/v1/search_by_date":
                filters = parse_qs(url.query).get("numericFilters", [""])[0]
                since = int(filters.split("=")[-1]) if "=" in filters else 0
                body, kind = render_hits(now, since), "application/json"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
