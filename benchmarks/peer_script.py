"""The peer: the core job done the simplest way, by a script nobody here would ship, as a yardstick.

    python benchmarks/peer_script.py DATABASE BRANDS_FILE FEED_URL...

Reads each feed (feedparser fetches it), matches each brand by one regex, scores the matched
entries with VADER, stores them in SQLite with an FTS5 index. No cursor, no backoff, no reach,
no alerts, no spike watch: what ``monitor once`` does beside its core is the difference.
"""

import re
import sqlite3
import sys

import feedparser
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer


def main() -> None:
    database, brands_file, *feeds = sys.argv[1:]
    brands = [line.strip() for line in open(brands_file, encoding="utf-8") if line.strip()]
    patterns = [(brand, re.compile(rf"\b{re.escape(brand)}\b", re.IGNORECASE)) for brand in brands]
    vader = SentimentIntensityAnalyzer()
    db = sqlite3.connect(database)
    db.execute("CREATE TABLE IF NOT EXISTS posts (id TEXT PRIMARY KEY, feed TEXT, brand TEXT, title TEXT, text TEXT,"
               " published TEXT, compound REAL)")
    db.execute("CREATE VIRTUAL TABLE IF NOT EXISTS posts_fts USING fts5(title, text)")
    stored = 0
    for url in feeds:
        for entry in feedparser.parse(url).entries:
            text = f"{entry.get('title', '')}\n{entry.get('summary', '')}"
            found = next((brand for brand, pattern in patterns if pattern.search(text)), None)
            if found is None:
                continue
            compound = vader.polarity_scores(text)["compound"]
            cursor = db.execute("INSERT OR IGNORE INTO posts VALUES (?, ?, ?, ?, ?, ?, ?)",
                                (entry.get("id") or entry.get("link"), url, found, entry.get("title", ""),
                                 entry.get("summary", ""), entry.get("published", ""), compound))
            if cursor.rowcount:
                db.execute("INSERT INTO posts_fts (rowid, title, text) VALUES (last_insert_rowid(), ?, ?)",
                           (entry.get("title", ""), entry.get("summary", "")))
                stored += 1
    db.commit()
    print(stored)


if __name__ == "__main__":
    main()
