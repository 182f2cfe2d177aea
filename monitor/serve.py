"""`monitor serve`: Datasette over the store, read-only, with the schema described and the
questions PR teams ask as canned queries.

Datasette opens a database that may change with a read-only connection (``mode=ro``), so a
running monitor keeps writing while people browse. The metadata comes from ``monitor/schema.md``
(each table's description and its columns' notes) so the web UI and the documentation never
disagree; the canned queries are plain SQL over the public tables, parameters bound.
"""

from __future__ import annotations

import re
from pathlib import Path

from monitor.models import ACTED_ON
from monitor.store.labels import NEAREST

SCHEMA = Path(__file__).resolve().parent / "schema.md"  # package data: it ships in the wheel
WEEK_AGO = "strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-7 days')"

def _enc(column: str) -> str:
    """SQL that percent-encodes the characters that would break a query string."""
    out = column
    for char, code in (("%", "%25"), ("&", "%26"), ("#", "%23"), ("+", "%2B"), (" ", "%20"), ("?", "%3F")):
        out = f"replace({out}, '{char}', '{code}')"
    return out


def _author_link(source: str, handle: str) -> str:
    return f"'{{base}}/{{db}}/author_mentions?source=' || {_enc(source)} || '&handle=' || {_enc(handle)}"


QUERIES = {
    "alert_posts": {
        "title": "An alert's posts, widest reach first",
        "description": "Every post of one alert or one grouped notification (the 'and N more posts' link of a"
                       " Slack alert opens this): its key, as the alert carried it.",
        "sql": "SELECT m.published_at, m.source, m.author, m.bucket, m.assassin_score, m.reach_likely,"
               " coalesce(nullif(m.title, ''), substr(m.text, 1, 200)) AS post, m.url, m.source || ':' || m.id AS id"
               " FROM alerts a JOIN mentions m ON m.source = a.mention_source AND m.id = a.mention_id"
               " WHERE a.notification = :key OR substr(a.key, instr(a.key, ':') + 1) = :key"
               " ORDER BY m.reach_likely DESC LIMIT 500",
    },
    "alerts_acted_on": {
        "title": "The last 7 days' alerts and what the team did with them",
        "description": "Each Slack notification of an assassin, hostile coverage or a storm: when it went out, when it was first"
                       " acknowledged from its buttons and how many minutes that took, and every act on it (who acted"
                       " is in alert_actions).",
        "sql": "SELECT a.notification, min(a.brand) AS brand, min(a.kind) AS kind, min(a.sent_at) AS sent_at,"
               " (SELECT min(x.at) FROM alert_actions x WHERE x.notification = a.notification AND x.action = 'ack')"
               " AS acknowledged_at,"
               " round((julianday((SELECT min(x.at) FROM alert_actions x WHERE x.notification = a.notification"
               " AND x.action = 'ack')) - julianday(min(a.sent_at))) * 1440) AS minutes_to_acknowledge,"
               " (SELECT group_concat(x.action, ', ') FROM alert_actions x WHERE x.notification = a.notification)"
               " AS actions"
               f" FROM alerts a WHERE a.status = 'sent' AND a.kind IN {ACTED_ON} AND a.sent_at >= {WEEK_AGO}"
               " AND a.notification IS NOT NULL GROUP BY a.notification ORDER BY sent_at DESC LIMIT 500",
    },
    "assassins_last_7_days": {
        "title": "Assassins of the last 7 days, widest reach first",
        "sql": "SELECT published_at, brand, source, author, reach_likely, reach_low, reach_high, assassin_score,"
               " coalesce(nullif(title, ''), substr(text, 1, 200)) AS post, url, id,"
               f" {_author_link('source', 'author')} AS author_page"
               f" FROM mentions WHERE bucket = 'assassin' AND published_at >= {WEEK_AGO}"
               " ORDER BY reach_likely DESC LIMIT 500",
    },
    "hostile_coverage_last_30_days": {
        "title": "Hostile coverage of the last 30 days, widest reach first",
        "description": "Articles of the press sources (Google News; sources[].press) that the assassin call read as"
                       " an assassin's words: coverage, not a customer, so they are bucketed apathetic; what the"
                       " PR team answers.",
        "sql": "SELECT published_at, brand, source, author AS publisher, reach_likely, assassin_score,"
               " coalesce(nullif(title, ''), substr(text, 1, 200)) AS headline, url, id"
               " FROM mentions WHERE speaker = 'press' AND read_as = 'assassin'"
               " AND published_at >= strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-30 days')"
               " ORDER BY reach_likely DESC LIMIT 500",
    },
    "brand_health_by_day": {
        "title": "Brand health by day: buckets, net score, reach of assassins",
        "sql": "SELECT day, brand, mentions, advocates, apathetics, assassins, unscored, net_score, assassin_reach"
               " FROM brand_health_daily WHERE (:brand = '' OR brand = :brand)"
               " AND day >= date('now', '-' || coalesce(nullif(:days, ''), '30') || ' days') ORDER BY brand, day",
    },
    "spikes": {
        "title": "Spikes and drops with their explanation (the storm each joined)",
        "sql": "SELECT window_start, window_end, brand, coalesce(source, 'all') AS source, measure, kind, observed,"
               " round(expected, 1) AS expected, round(z, 1) AS z, json_extract(explanation, '$.summary') AS summary,"
               f" storm, '{{base}}/{{db}}/spike_posts?brand=' || {_enc('brand')} || '&start=' || window_start"
               " || '&end=' || window_end AS posts_page"
               " FROM spikes WHERE (:brand = '' OR brand = :brand) ORDER BY window_start DESC LIMIT 500",
    },
    "spike_posts": {
        "title": "The posts of a spike's window (brand, start, end from the spikes query)",
        "sql": "SELECT m.published_at, m.source, m.bucket, m.reach_likely, m.author,"
               " coalesce(nullif(m.title, ''), substr(m.text, 1, 200)) AS post, m.url"
               " FROM mentions m, json_each(m.brands) b WHERE b.value = :brand AND m.published_at >= :start"
               " AND m.published_at < :end ORDER BY m.reach_likely DESC LIMIT 500",
    },
    "storms": {
        "title": "Storms: each burst in plain words",
        "sql": "SELECT started_at, ended_at, brand, kind, posts, round(expected, 1) AS expected, reach_likely, summary"
               " FROM storms ORDER BY started_at DESC LIMIT 200",
    },
    "author_moves": {
        "title": "Authors who moved between assassin and advocate (last 30 days)",
        "sql": "SELECT t.at, t.source, t.handle, a.display_name, t.from_bucket, t.to_bucket, a.audience, t.mention_id,"
               f" {_author_link('t.source', 't.handle')} AS author_page"
               " FROM author_transitions t JOIN authors a USING (source, handle)"
               " WHERE t.from_bucket IN ('assassin', 'advocate') AND t.to_bucket IN ('assassin', 'advocate')"
               " AND t.at >= strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-30 days') ORDER BY t.at DESC",
    },
    "top_advocates": {
        "title": "Top advocates by audience",
        "sql": "SELECT source, handle, display_name, audience, mentions, round(weighted_sentiment, 2) AS sentiment,"
               f" last_seen, {_author_link('source', 'handle')} AS author_page FROM authors WHERE bucket = 'advocate' ORDER BY audience DESC NULLS LAST LIMIT 100",
    },
    "author_mentions": {
        "title": "What one author said (source and handle from the authors table)",
        "sql": "SELECT published_at, brand, bucket, reach_likely, coalesce(nullif(title, ''), substr(text, 1, 300)) AS post,"
               " url FROM mentions WHERE source = :source AND author = :handle ORDER BY published_at DESC LIMIT 500",
    },
    "source_recent": {
        "title": "What a source has been saying (newest first)",
        "sql": "SELECT published_at, brand, bucket, reach_likely, author,"
               " coalesce(nullif(title, ''), substr(text, 1, 300)) AS post, url"
               # "+source": walk the publication index newest first and stop at 500, rather than
               # sort every post of the source (a million-post store: 0.4 s -> a few ms).
               " FROM mentions WHERE +source = :source ORDER BY published_at DESC LIMIT 500",
    },
    "to_label": {
        "title": "To label: the mentions the call is least sure of, one of each text (then monitor label SOURCE:ID assassin|not)",
        "description": "As monitor label --suggest lists them: unlabelled scored mentions nearest the threshold (0.5"
                       " unless given), newest first among equals, one row per text (numbers and punctuation aside:"
                       " a label on one copy teaches the call all of them), among the 4,000 nearest.",
        "sql": "SELECT mention, assassin_score, brand, published_at, post, url FROM ("
               " SELECT c.source || ':' || c.id AS mention, c.assassin_score, c.brand, c.published_at,"
               " coalesce(nullif(c.title, ''), substr(c.text, 1, 300)) AS post, c.url, c.source, c.id, c.distance,"
               " row_number() OVER (PARTITION BY text_key(c.title, c.text) ORDER BY c.distance, c.published_at DESC,"
               " c.source, c.id) AS n"
               " FROM (SELECT *, abs(assassin_score - coalesce(nullif(:threshold, ''), 0.5)) AS distance FROM "
               + NEAREST.format(t="coalesce(nullif(:threshold, ''), 0.5)", n="4000").replace("\n", "")
               + " ORDER BY distance, published_at DESC, source, id LIMIT 4000) c)"
               " WHERE n = 1 ORDER BY distance, published_at DESC, source, id LIMIT 200",
    },
    "search": {
        "title": "Full-text search with filters (leave a filter empty to skip it; FTS5: words, \"phrases\", OR, NOT)",
        "sql": "SELECT m.published_at, m.brand, m.source, m.bucket, m.reach_likely, m.author,"
               " coalesce(nullif(m.title, ''), substr(m.text, 1, 300)) AS post, m.url"
               " FROM (SELECT rowid, rank FROM mentions_fts WHERE mentions_fts MATCH :q ORDER BY rowid DESC LIMIT 10000) f"
               " JOIN mentions m ON m.rowid = f.rowid"
               " WHERE (:brand = '' OR EXISTS (SELECT 1 FROM json_each(m.brands) WHERE value = :brand COLLATE NOCASE))"
               " AND (:source = '' OR m.source = :source) AND (:bucket = '' OR m.bucket = :bucket)"
               " AND (:since = '' OR m.published_at >= :since)"
               " AND coalesce(m.reach_likely, 0) >= coalesce(nullif(:min_reach, ''), 0) + 0"
               " ORDER BY f.rank LIMIT 200",
    },
}


DESCRIPTIONS = {
    "mentions": "Every stored post or review that named a brand, with its bucket, sentiment and reach.",
    "mentions_fts": "The full-text index over mentions' titles and texts (FTS5, porter stemming).",
    "rules": "Each keyword rule that has matched a post, its text once (mentions refer to it through rule_sets).",
    "rule_sets": "Each distinct list of keyword rules a post matched, once (mentions keep its id in rule_set).",
    "mention_rules": "One row per post and keyword rule it matched, with the rule's text.",
    "refreshes": "Each re-read that changed a mention's engagement (reach that grows).",
    "brands": "The watched brands as the config last named them, and which are competitors (share of voice).",
    "edits": "Each edit of a stored review (its words, stars or the brand's reply), with what it said before.",
    "rollups": "Mentions and likely reach per brand, day, source and bucket: what brand health reads.",
    "brand_health_daily": "Per brand and UTC day: mentions by bucket, net score (advocates minus assassins as a share of"
                          " the scored mentions, −100 to +100), assassins' likely reach (an estimate).",
    "brand_health": "Per brand over all time: mentions by bucket and net score (advocates minus assassins as a share of"
                    " the scored mentions: −100 every one an assassin, +100 every one an advocate).",
    "sources": "One row per source: its cursor, last run, errors, and running totals.",
    "authors": "One row per author and source: their mentions, recency-weighted sentiment and bucket.",
    "author_transitions": "Each time an author moved between advocate, apathetic and assassin.",
    "labels": "A site's own calls on stored mentions (monitor label), which teach the assassin call.",
    "spike_series": "Each watched series and its detector's state.",
    "spikes": "Every spike and drop, with its explanation.",
    "storms": "Each burst of a brand, its series merged, in plain words.",
    "alerts": "The outbox and notification log: every alert, per receiver, and what became of it.",
    "alert_groups": "The routing groups alerts are batched into, per receiver.",
    "alert_actions": "What people did to an alert from its Slack buttons: acknowledged, labelled, silenced, took on; who and when.",
    "silences": "Silences: label tests that hold matching alerts back until they expire.",
    "waits": "A host or receiver that asked the monitor to wait (a 429's Retry-After, a spent quota), until when and why.",
    "workers": "Each monitor run process and when it was last heard from.",
    "leases": "What a worker holds (a source's run, the spike watch) and until when, so two workers never run it at once.",
}


def described(text: str = "") -> dict[str, dict]:
    """Each table's description and its columns' notes, from monitor/schema.md's sections."""
    text = text or SCHEMA.read_text(encoding="utf-8")
    tables = {}
    for match in re.finditer(r"^## `([a-z_]+)`\n(.*?)(?=^## |\Z)", text, re.M | re.S):
        name, body = match.group(1), " ".join(match.group(2).split())
        columns = {col: note for col, note in re.findall(r"`([a-z_]+)` \(([^()]*(?:\([^()]*\)[^()]*)*)\)", body)}
        tables[name] = {"description": DESCRIPTIONS.get(name, ""), "columns": columns}
    return tables


def queries(database: str, base: str) -> dict:
    """The canned queries, their links pointing at ``base`` (where the UI is served) and ``database``."""
    base, database = base.rstrip("/").replace("'", "''"), database.replace("'", "''")  # inside SQL string literals
    return {name: {**query, "sql": query["sql"].replace("{base}", base).replace("{db}", database)}
            for name, query in QUERIES.items()}


# The monitor's own bookkeeping: out of the menu (still queryable by name and in SQL).
INTERNAL_TABLES = ("leases", "workers", "waits", "spike_series", "alert_groups", "rollups")
NEWEST_FIRST = {"mentions": "published_at", "alerts": "created_at", "spikes": "window_start", "storms": "started_at",
                "authors": "last_seen", "author_transitions": "at", "refreshes": "at", "edits": "at"}
PRIVATE_TABLES = ("labels", "silences", "alert_actions")  # who labelled, silenced or acted on what, and their notes


def metadata(database: str, base: str = "http://127.0.0.1:8001", *, private: bool = False) -> dict:
    """Datasette's metadata for the store (``database``: its name, the file's stem; ``base``: the
    address people open, for the links from a row to an author's posts or a spike's). ``private``
    denies the tables that name the team's people, and SQL of one's own, which could read them."""
    tables = described()
    for name in INTERNAL_TABLES:
        tables.setdefault(name, {})["hidden"] = True
    for name, column in NEWEST_FIRST.items():
        tables.setdefault(name, {})["sort_desc"] = column
    canned = {name: {**query, "hide_sql": True} for name, query in queries(database, base).items()}  # "Show SQL" unfolds it
    settings: dict = {"tables": tables, "queries": canned}
    if private:
        for name in PRIVATE_TABLES:
            tables[name] = {**tables.get(name, {}), "allow": False}
        settings["allow_sql"] = False
    return {
        "plugins": {"monitor-webui": {"private": private}},  # the dashboard then names nobody who acted
        "title": "Reputation monitor",
        "description": "Mentions, authors, spikes and alerts as the monitor stored them. Read-only.",
        "source": "monitor/schema.md",
        "databases": {database: settings},
    }
