"""What an alert says, in words a community manager reads in ten seconds: pure functions shared
by every receiver (Slack's Block Kit, the console).

- A header that says what, who and how far: ``Assassin · Acme Cloud · reaches ~18k–24k people``.
- Per post, one line of why in the post's own words: ``complaint: ‘lost all my data’, ‘never
  again’``, quoted from the post around the words the call leaned on, never the brand's own name
  nor ids (``u123abc``, ``#4512``), and what the call rests on (``assassin, 88 % sure``) instead
  of a sentiment number that can say the opposite (a complaint in polite words scores +0.10).
- A push text (what a phone shows) of one sentence, at most ``PUSH_MAX`` characters.

Everything here is untrusted text made plain (``clean_text``); escaping for a receiver's markup
is the receiver's.
"""

from __future__ import annotations

import re

from monitor.models import Alert, Judged, clean_text

PUSH_MAX = 150
PHRASES = 2  # quoted phrases on a post's why line
PHRASE_WORDS = 3  # words in a quoted phrase at most
# Words a quoted phrase neither starts nor ends with ("lost our database", not "lost our database
# during"); negations are not among them ("no refund").
_GLUE = frozenset("a an the and or but is are was were be been to of in on at for with during by from as so "
                  "this that it its our my your we i you they their".split())
_WORD = re.compile(r"[\w'’-]+", re.UNICODE)
# A token that is an id, not a word: digits in it (u123abc, #4512, 2fa is a word but 4512 not),
# a handle or a tag, a URL.
_ID = re.compile(r"^(?:[#@].*|.*\d.*|https?:.*|www\..*)$")
_LABELS = {"complaint or churn intent": "wants to leave", "service failure or being ignored": "service failure",
           "complaint": "complaint", "negative about the brand": "negative"}
_CUES = ("complaint or churn intent", "service failure or being ignored")  # phrases the cue detector found
_CLAUSE = re.compile(r"[.!?;:,()\[\]\n]+")


def compact(n: int) -> str:
    """``950``, ``1.2k``, ``18k``, ``3.4M``: a reach figure as people say it."""
    if n < 1000:
        return f"{n:,}"
    for size, unit in ((1_000_000_000, "B"), (1_000_000, "M"), (1000, "k")):
        if n >= size:
            value = n / size
            return f"{value:.1f}".rstrip("0").rstrip(".") + unit if value < 10 else f"{value:.0f}{unit}"
    return str(n)


def reach_phrase(low: int, high: int) -> str:
    """``~18k–24k people``, ``~3 people``."""
    return f"~{compact(low)} people" if compact(low) == compact(high) else f"~{compact(low)}–{compact(high)} people"


def brand_words(judged: Judged) -> set[str]:
    """The words of the brand's name and of the rules that matched: never shown as a reason."""
    words = set()
    for text in (*judged.match.brands, *judged.match.keywords):
        words.update(w.lower() for w in _WORD.findall(text) if w not in ("AND", "OR", "NOT"))
    return words


def leaned_on(judged: Judged) -> list[tuple[str, list[str]]]:
    """What the call leaned on, strongest kind first: (label, its words or phrases), the cue
    detector's phrases (``never again``, ``lost all``) before the learned layer's words, the
    brand's own words and ids left out."""
    own = brand_words(judged)
    found: dict[str, list[str]] = {}
    for reason in judged.score.reasons:
        name, _, listed = reason.partition(": ")
        name = name.split(" (")[0]  # "complaint (the sentence as a whole)": the sentence heads' words too
        if name not in _LABELS:
            continue
        for item in listed.split(", "):
            item = item.strip().lower()
            tokens = item.split()
            if item and not any(t in own or _ID.match(t) for t in tokens) and item not in found.setdefault(name, []):
                found[name].append(item)
    return [(_LABELS[name], found[name]) for name in _LABELS if found.get(name)]


def quoted(text: str, items: list[str], *, own: set[str], taken: set[str] | None = None) -> list[str]:
    """Short phrases of ``text`` (at most PHRASE_WORDS words, within one clause) around ``items``
    (words or phrases, the first time each appears), none holding the brand's words or an id."""
    taken = set() if taken is None else taken
    clauses = [_WORD.findall(c) for c in _CLAUSE.split(clean_text(text))]
    out: list[str] = []
    for item in items:
        wanted = item.split()
        for tokens in clauses:
            lowered = [t.lower() for t in tokens]
            at = next((i for i in range(len(lowered) - len(wanted) + 1) if lowered[i:i + len(wanted)] == wanted), None)
            if at is None:
                continue
            start, end = at, at + len(wanted)
            for grow in (1, -1, 1, -1):  # a word after, before, after, before, while it stays short and clean
                candidate = end if grow > 0 else start - 1
                if end - start >= PHRASE_WORDS or not 0 <= candidate < len(tokens):
                    continue
                if lowered[candidate] in own or _ID.match(lowered[candidate]):
                    continue
                start, end = min(start, candidate), max(end, candidate + 1)
            while start < at and lowered[start] in _GLUE:
                start += 1
            while end > at + len(wanted) and lowered[end - 1] in _GLUE:
                end -= 1
            phrase = " ".join(tokens[start:end])
            if phrase.lower() not in taken and not any(phrase.lower() in t or t in phrase.lower() for t in taken):
                taken.add(phrase.lower())
                out.append(phrase)
            break
    return out


def why_line(judged: Judged) -> str:
    """One line of why, in the post's own words: ``wants to leave: ‘never again’, ‘lost all my
    data’``: the strongest kind of reason the post gives, and up to PHRASES of its phrases."""
    s = judged.score
    if s.bucket != "assassin" and not s.is_hostile_coverage:  # hostile coverage says why too
        return "" if s.compound is None else f"tone {s.compound:+.2f}"
    stars = s.reasons[0] if s.reasons and s.reasons[0].endswith("-star review") else ""  # the customer's own call
    reasons = leaned_on(judged)
    if not reasons:
        return stars or "complaint"
    text, own, taken = judged.mention.text or judged.mention.title, brand_words(judged), set()
    phrases: list[str] = []
    for _, items in reasons:
        phrases += quoted(text, items, own=own, taken=taken)[:PHRASES - len(phrases)]
        if len(phrases) >= PHRASES:
            break
    said = ", ".join(f"‘{p}’" for p in phrases)
    line = f"{reasons[0][0]}: {said}" if said else reasons[0][0]
    return f"{stars} · {line}" if stars else line


def post_reason(judged: Judged, *, press: bool = False) -> str:
    """The reason of one post's alert, as people read it (the store's alerts, the terminal, e-mail,
    a webhook's description, a group's section): the call and why in the post's words,
    ``assassin, 98% sure; wants to leave: ‘no refund’, ‘Awful’`` or, for the ``press``,
    ``hostile coverage, 85% sure; service failure: ‘outage disrupts thousands’``. The full
    reasons stay on the post's row (``bucket_reasons``)."""
    s, why = judged.score, why_line(judged)
    if press:
        label = f"hostile coverage, {s.assassin_score:.0%} sure" if s.assassin_score is not None else "hostile coverage"
    else:
        label = call_label(judged)
        said = label.removeprefix("assassin, ")  # a review's stars, said once
        why = why.removeprefix(f"{said} · ") if why != said else ""
    return f"{label}; {why}" if why and not why.startswith("tone ") else label


def call_label(judged: Judged) -> str:
    """What the call rests on, never a number that contradicts it: ``assassin, 88 % sure``,
    ``advocate, tone +0.72``, ``unscored``; for who is not a customer, who it is (``press, hostile,
    85 % sure``: the call's reading had a customer written it; ``the brand's own``)."""
    s = judged.score
    if s.speaker == "press":
        hostile = s.call == "assassin" and s.assassin_score is not None
        return f"press, hostile, {s.assassin_score:.0%} sure" if hostile else "press"
    if s.speaker == "brand":
        return "the brand's own"
    if s.bucket is None:
        return "unscored"
    if s.bucket == "assassin" and s.reasons and s.reasons[0].endswith("-star review"):
        return f"assassin, {s.reasons[0]}"  # the customer's own stars, not the words' probability
    if s.bucket == "assassin" and s.assassin_score is not None:
        return f"assassin, {s.assassin_score:.0%} sure"
    if s.compound is not None and s.bucket == "advocate":
        return f"advocate, tone {s.compound:+.2f}"
    return s.bucket


def total_reach(alert: Alert) -> tuple[int, int]:
    """The alert's posts' reach ranges summed (audiences overlap: fewer distinct people)."""
    return sum(j.reach.low for j in alert.mentions), sum(j.reach.high for j in alert.mentions)


def headline(alert: Alert) -> str:
    """What, who, how far: ``Assassin · Acme Cloud · reaches ~18k–24k people``,
    ``3 assassins · Acme Cloud · up to ~40k people``, ``Storm · Acme Cloud · …``."""
    n = len(alert.mentions)
    low, high = total_reach(alert)
    what = {"assassin": "Assassin", "spike": "Storm", "drop": "Silence", "source_down": "Source down",
            "budget": "Budget", "digest": "Digest", "reach": "Reach", "group": "Alerts", "press": "Press"}.get(alert.kind, alert.kind.replace("_", " ").title())
    if alert.kind == "assassin" and n > 1:
        what = f"{n} assassins"
    parts = [what, alert.brand] if alert.brand else [what]
    if alert.kind in ("spike", "drop") and alert.brand and alert.reason.startswith(f"{alert.brand}: "):
        parts.append(alert.reason[len(alert.brand) + 2:].split(",")[0].split(";")[0])  # "134 negative posts in 2 hours"
    elif alert.kind in ("assassin", "reach", "group", "press") and high:
        parts.append(f"reaches {reach_phrase(low, high)}" if n == 1 else f"together up to {reach_phrase(high, high)}")
    elif alert.kind in ("source_down", "budget") and alert.source:
        parts.append(alert.source)
    return clean_text(" · ".join(parts), width=150)


def push_text(alert: Alert) -> str:
    """One sentence a phone's notification can show, at most PUSH_MAX characters."""
    if alert.kind == "spike" or not alert.mentions:
        first = clean_text(alert.reason).split("; ")[0]
        what = headline(alert).split(" · ")[0]
        if alert.brand:  # "Storm · Acme: 22 negative posts in 15 minutes, about 0 expected …"
            first = first.removeprefix(f"{clean_text(alert.brand)}: ")
            what = f"{what} · {clean_text(alert.brand)}"
        sentence = f"{what}: {first}"
    else:
        top = alert.mentions[0]
        words = clean_text(top.mention.title or top.mention.text)
        sentence = f"{headline(alert)}: “{words}”"
    return clean_text(sentence, width=PUSH_MAX)
