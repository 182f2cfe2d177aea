"""Keyword rules: whole words, phrases, boolean operators, exclusions."""

from __future__ import annotations

import pytest

from connectors.base import Syntax, combined, searches
from monitor.judgement.matching import KeywordSyntaxError, Matcher, check_rule, compile_brand
from monitor.models import SearchTerm


def matcher(*keywords: str, exclude: tuple[str, ...] = (), **kw) -> Matcher:
    return Matcher([compile_brand("Acme", keywords, exclude, **kw)])


def test_case_insensitive_whole_words_by_default() -> None:
    m = matcher("acme")
    assert m.match("I love ACME products")
    assert m.match("acme's support") is not None
    assert m.match("acmeville is a town") is None


def test_case_sensitive_when_asked() -> None:
    m = matcher("Acme", case_sensitive=True)
    assert m.match("Acme rocks")
    assert m.match("acme rocks") is None


def test_quoted_phrase_matches_words_in_order_across_punctuation() -> None:
    m = matcher('"acme cloud"')
    assert m.match("Acme Cloud is down")
    assert m.match("the acme-cloud dashboard")
    assert m.match("cloud by acme") is None


def test_adjacent_terms_are_anded() -> None:
    m = matcher("acme outage")
    assert m.match("outage at acme today")
    assert m.match("acme today") is None


def test_and_or_not_with_parentheses() -> None:
    m = matcher("acme AND (outage OR down) AND NOT test")
    assert m.match("acme is down")
    assert m.match("acme outage")
    assert m.match("acme is fine") is None
    assert m.match("acme down test") is None


def test_exclusion_wins_over_keyword() -> None:
    m = matcher("acme", exclude=('"acme corporation" AND cartoon',))
    assert m.match("Acme Corporation in the cartoon") is None
    assert m.match("Acme Corporation quarterly results")


def test_prefix_wildcard() -> None:
    m = matcher("acmecl*")
    assert m.match("acmecloud is great")
    assert m.match("acme cloud") is None


def test_lowercase_operators_are_words() -> None:
    m = matcher('"salt and pepper"')
    assert m.match("Salt and Pepper diner")


def test_match_reports_every_brand_and_keyword() -> None:
    m = Matcher([compile_brand("Acme", ["acme", "roadrunner"]), compile_brand("Beta", ["beta"])])
    found = m.match("acme vs beta, with a roadrunner")
    assert found.brands == ("Acme", "Beta")
    assert found.keywords == ("acme", "roadrunner", "beta")
    assert found.brand == "Acme"


def test_languages_filter_only_known_languages() -> None:
    m = matcher("acme", languages=["en"])
    assert m.match("acme", "en")
    assert m.match("acme", "fr") is None
    assert m.match("acme", None), "an unknown language is kept, never silently dropped"


def test_queries_keep_phrases_skip_negations_and_are_anchored_on_the_required_terms() -> None:
    m = matcher('"acme cloud"', "acme AND NOT jobs", '"Acme" AND (outage OR support)', "globex OR initech", "acme*")
    phrase, acme, anchored, either, prefix = m.queries()
    assert phrase.anchor == (SearchTerm("acme cloud", phrase=True),)
    assert acme.anchor == (SearchTerm("acme"),) and acme.alternatives == ((SearchTerm("acme"),),)
    assert anchored.anchor == (SearchTerm("Acme", phrase=True),)
    assert anchored.alternatives == ((SearchTerm("Acme", phrase=True), SearchTerm("outage")),
                                     (SearchTerm("Acme", phrase=True), SearchTerm("support")))
    assert either.anchor == () and either.alternatives == ((SearchTerm("globex"),), (SearchTerm("initech"),))
    assert prefix.anchor == (SearchTerm("acme", prefix=True),)


def test_each_syntax_sends_every_rule_anchored_on_its_brand() -> None:
    m = matcher('"acme cloud"', '"Acme" AND (outage OR support OR "status page")', "globex OR initech", "acme*")
    assert searches(m.queries(), Syntax()) == ['"acme cloud"', '"Acme"', "globex", "initech", "acme"]
    assert searches(m.queries(), Syntax(boolean=True)) == [
        '"acme cloud"', '"Acme" (outage OR support OR "status page")', "globex OR initech", "acme"]
    assert searches(m.queries(), Syntax(quotes=False, single=True)) == ["acme cloud", "Acme", "globex", "initech", "acme"]
    assert combined(m.queries(), Syntax(boolean=True)) == [
        '"acme cloud" OR ("Acme" (outage OR support OR "status page")) OR (globex OR initech) OR acme']
    assert combined(m.queries(), Syntax()) == searches(m.queries(), Syntax())  # no OR: one search a rule
    # the API's bounds: 62 characters, 2 operators; a rule is never split
    assert combined(m.queries(), Syntax(boolean=True, max_query=62)) == [
        '"acme cloud" OR ("Acme" (outage OR support OR "status page"))', "(globex OR initech) OR acme"]
    assert combined(m.queries(), Syntax(boolean=True, max_operators=2)) == [
        '"acme cloud"', '"Acme" (outage OR support OR "status page")', "(globex OR initech) OR acme"]
    assert combined(m.queries(), Syntax(boolean=True, or_word="|")) == [
        '"acme cloud" | ("Acme" (outage | support | "status page")) | (globex | initech) | acme']


def test_100000_rules_fit_a_few_hundred_searches_each_within_the_apis_bounds() -> None:
    rules = [f'"brand {i} cloud"' for i in range(100_000)]
    reddit = Syntax(boolean=True, max_query=512)
    found = combined([check_rule(r)[2] for r in rules], reddit)
    assert all(len(q) <= 512 for q in found) and sum(map(len, found)) / len(found) > 490  # each nearly full
    assert len(found) < 5_000
    assert sum(q.count('"') for q in found) == 2 * 100_000  # every rule in one search


def test_a_rule_that_multiplies_into_too_many_searches_is_refused_with_the_fix() -> None:
    rule = " AND ".join(f"(a{i} OR b{i})" for i in range(9))  # 2**9 = 512 alternatives, no common term
    with pytest.raises(KeywordSyntaxError, match="expands to more than 256 alternative searches"):
        compile_brand("Acme", [rule])



@pytest.mark.parametrize(
    "rule, message",
    [
        ('"acme', "unbalanced quote in '\"acme' — close the quote"),
        ("(acme", "unbalanced parenthesis in '(acme' — add the missing ')'"),
        ("acme)", "unbalanced parenthesis in 'acme)' — remove the extra ')' or add a '('"),
        ("acme AND", "AND at the end of 'acme AND' — put a term after AND"),
        ("OR acme", "OR without a term before it in 'OR acme' — put a term on both sides of OR"),
        ('""', "empty phrase in '\"\"' — put words between the quotes"),
        ("()", "empty parentheses or a missing term before ')' in '()' — put a term inside the parentheses"),
        ("", 'empty keyword rule — write at least one word or "phrase"'),
    ],
)
def test_syntax_errors_say_how_to_fix(rule: str, message: str) -> None:
    with pytest.raises(KeywordSyntaxError) as info:
        compile_brand("Acme", [rule])
    assert str(info.value) == message


def test_regex_metacharacters_in_keywords_are_literal() -> None:
    m = matcher('"c++"', "a.b")
    assert m.match("I write c++ daily") is None or m.match("I write c++ daily").keywords == ('"c++"',)
    assert m.match("aXb") is None


def _reference(matcher: Matcher, text: str, language: str | None = None):
    """The matcher before its rule index: every brand, every rule, in config order."""
    from monitor.models import Match

    brands, keywords, seen = [], [], {"lower": text.lower()}
    for brand in matcher.brands:
        if language and brand.languages and language not in brand.languages:
            continue
        hits = [rule for rule, pred in brand.keywords if pred(text, seen)]
        if not hits or any(pred(text, seen) for pred in brand.exclude):
            continue
        brands.append(brand.name)
        keywords.extend(h for h in hits if h not in keywords)
    return Match(tuple(brands), tuple(keywords)) if brands else None


def test_the_rule_index_matches_exactly_what_running_every_rule_matches() -> None:
    """A property test: random rules (words, phrases, prefixes, AND / OR / NOT, parentheses, case
    rules, exclusions, a rule repeated or reordered) over random posts (case, punctuation,
    underscores, hashtags), seeded; plain rules are decided by their words alone, the others run."""
    import random

    rng = random.Random(20261202)
    words = ["acme", "cloud", "globex", "outage", "down", "support", "billing", "node.js", "c++", "at&t", "initech",
             "beta", "mail", "İstanbul", "café"]

    def term() -> str:
        kind = rng.random()
        if kind < 0.25:
            return '"' + " ".join(rng.sample(words, 2)) + '"'
        if kind < 0.35:
            return rng.choice(["acme", "glob", "init", "bet"]) + "*"
        return rng.choice(words)

    def rule(depth: int = 0) -> str:
        kind = rng.random()
        if depth > 1 or kind < 0.4:
            return term()
        if kind < 0.6:
            return f"{rule(depth + 1)} AND ({rule(depth + 1)} OR {rule(depth + 1)})"
        if kind < 0.8:
            return f"{rule(depth + 1)} OR {rule(depth + 1)}"
        return f"{term()} AND NOT {term()}"

    def post() -> str:
        out = []
        for _ in range(rng.randint(1, 8)):
            w = rng.choice(words + ["the", "is", "a"])
            w = rng.choice([w, w.upper(), w.title(), "#" + w, w + "'s", w + "_cloud", w + "-" + rng.choice(words)])
            out.append(w + rng.choice(["", "", ",", "!", "."]))
        return " ".join(out)

    checked = matched = 0
    for case in range(150):
        brands = []
        for b in range(rng.randint(1, 3)):
            rules = [rule() for _ in range(rng.randint(1, 6))]
            if rng.random() < 0.3:  # the same tree written again, or in another order: one predicate
                again = rng.choice(rules)
                rules.append(f"{again.split(' OR ', 1)[1]} OR {again.split(' OR ', 1)[0]}" if " OR " in again
                             and "(" not in again else again)
            try:
                brands.append(compile_brand(f"B{case}-{b}", rules, [term()] if rng.random() < 0.3 else [],
                                            case_sensitive=rng.random() < 0.2,
                                            languages=["en"] if rng.random() < 0.2 else []))
            except KeywordSyntaxError:
                continue
        if not brands:
            continue
        m = Matcher(brands, index_above=0)  # the index, however few the rules
        for _ in range(20):
            text, language = post(), rng.choice([None, "en", "fr"])
            expected = _reference(m, text, language)
            assert m.match(text, language) == expected, (text, language, [b.keywords for b in m.brands])
            checked += 1
            matched += expected is not None
    assert checked > 2000 and matched > 300  # both sides of the property were exercised


def test_a_case_sensitive_brand_is_not_matched_by_another_brands_case_insensitive_result() -> None:
    """Found by the property test above: the per-post cache of term results was keyed by the
    compiled regex alone, which re.compile shares between the two, so "ACME" matched both."""
    m = Matcher([compile_brand("Loose", ["acme"]), compile_brand("Strict", ["acme"], case_sensitive=True)])
    assert m.match("ACME is down").brands == ("Loose",)
    assert m.match("acme is down").brands == ("Loose", "Strict")


def test_and_rules_are_anchored_on_the_brand_in_every_search_connector() -> None:
    """`acme AND billing` and `"Acme Cloud" AND support`: every search any connector sends, and
    every hashtag Mastodon follows, names the brand (never "billing" or "#support" alone)."""
    import importlib

    from connectors import REGISTRY
    from connectors.mastodon import _hashtags
    from tests.support import queries

    rules = queries("acme AND billing", '"Acme Cloud" AND support', "support AND acme")
    checked = []
    for kind in REGISTRY:
        module = importlib.import_module(f"connectors.{kind}")
        for syntax in {getattr(module, name) for name in ("SYNTAX", "SEARCH_SYNTAX") if hasattr(module, name)}:
            sent = combined(rules, syntax)
            assert sent and all("acme" in q.casefold() for q in sent), (kind, sent)
            checked.append(kind)
    assert {"hackernews", "reddit", "lemmy", "mastodon", "bluesky", "github", "stackexchange", "youtube",
            "googlenews", "discourse", "threads", "x"} <= set(checked)
    assert _hashtags(rules) == ["acme", "acmecloud"]
