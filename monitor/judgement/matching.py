"""Keyword rules: parsing ``"quoted phrases"``, ``AND``/``OR``/``NOT`` and parentheses, and matching.

A rule is compiled once per config into a small tree of regular expressions; matching a post
walks that tree, testing each term at most once. Terms match whole words, case-insensitively
unless the brand asks otherwise; ``word*`` matches a prefix. Adjacent terms without an
operator are ANDed, as in most search boxes. Only upper-case AND/OR/NOT are operators, so a
brand called "Salt and Pepper" still works when quoted.
"""

from __future__ import annotations

import collections
import itertools
import operator
import re
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Sequence

from monitor.models import Match, Query, SearchTerm


class KeywordSyntaxError(ValueError):
    """A keyword rule cannot be parsed; ``problem`` and ``fix`` become the config error."""

    def __init__(self, problem: str, fix: str) -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(f"{problem} — {fix}")


_TOKEN = re.compile(r'\s*(?:(?P<lp>\()|(?P<rp>\))|"(?P<phrase>[^"]*)"|(?P<quote>")|(?P<word>[^\s()"]+))')
_OPERATORS = {"AND", "OR", "NOT"}


@dataclass(frozen=True)
class Term:
    """A word, prefix or phrase; ``text`` is how a search API should be sent it."""

    text: str
    phrase: bool = False


def _tokenize(rule: str) -> list[tuple[str, str]]:
    # One elif chain per token kind: read as nesting by a counter, two levels to a reader.
    tokens: list[tuple[str, str]] = []
    pos = 0
    rule = rule.rstrip()
    while pos < len(rule):
        m = _TOKEN.match(rule, pos)
        if m is None:  # pragma: no cover - the word class takes every other character
            raise KeywordSyntaxError(f"cannot read {rule[pos:]!r}", "check the rule's syntax")
        pos = m.end()
        if m.group("lp"):
            tokens.append(("(", "("))
        elif m.group("rp"):
            tokens.append((")", ")"))
        elif m.group("quote"):
            raise KeywordSyntaxError(f"unbalanced quote in {rule!r}", "close the quote")
        elif m.group("phrase") is not None:
            phrase = " ".join(m.group("phrase").split())
            if not phrase:
                raise KeywordSyntaxError(f"empty phrase in {rule!r}", "put words between the quotes")
            tokens.append(("phrase", phrase))
        else:
            word = m.group("word")
            if word not in _OPERATORS:
                _check_word(word, rule)
            tokens.append(("op", word) if word in _OPERATORS else ("word", word))
    return tokens


_NEAR = re.compile(r"(?i)NEAR(/\d+)?")


def _check_word(word: str, rule: str) -> None:
    """Refuse the syntax of other search boxes, which would silently be read as literal words
    (``globex and cartoon`` would look for the word "and" and never match)."""
    if word.upper() in _OPERATORS:
        raise KeywordSyntaxError(
            f"{word!r} in {rule!r} would be read as the word {word!r}, not an operator",
            f"write {word.upper()} in capitals, or quote the phrase (\"salt {word} pepper\")")
    if _NEAR.fullmatch(word):
        raise KeywordSyntaxError(f"{word} in {rule!r} is not supported",
                                 "use AND (both terms anywhere in the post) or a \"quoted phrase\"")
    if len(word) > 1 and word[0] == "-" and word[1].isalnum():
        raise KeywordSyntaxError(f"{word!r} in {rule!r}: a leading '-' is not an operator here", f"write NOT {word[1:]}")
    if "*" in word[:-1]:
        prefix = word.split("*", 1)[0]
        raise KeywordSyntaxError(f"{word!r} in {rule!r}: * works only at the end of a word (a prefix)",
                                 f"write {prefix}*" if prefix else "put the * after the word's first letters, e.g. acme*")


class _Parser:
    """Recursive descent: or := and (OR and)*; and := not (AND? not)*; not := NOT not | atom."""

    def __init__(self, rule: str) -> None:
        self.rule = rule
        self.tokens = _tokenize(rule)
        self.pos = 0

    def parse(self) -> tuple:
        if not self.tokens:
            raise KeywordSyntaxError("empty keyword rule", "write at least one word or \"phrase\"")
        node = self._or()
        if self.pos < len(self.tokens):
            kind, _ = self.tokens[self.pos]
            if kind == ")":
                raise KeywordSyntaxError(
                    f"unbalanced parenthesis in {self.rule!r}", "remove the extra ')' or add a '('"
                )
            raise KeywordSyntaxError(f"unexpected {self.tokens[self.pos][1]!r} in {self.rule!r}", "check the operators")
        return node

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _or(self) -> tuple:
        nodes = [self._and()]
        while self._peek() == ("op", "OR"):
            self.pos += 1
            nodes.append(self._and())
        return nodes[0] if len(nodes) == 1 else ("or", *nodes)

    def _and(self) -> tuple:
        nodes = [self._not()]
        while True:
            tok = self._peek()
            if tok == ("op", "AND"):
                self.pos += 1
                nodes.append(self._not())
            elif tok is not None and (tok[0] in ("word", "phrase", "(") or tok == ("op", "NOT")):
                nodes.append(self._not())
            else:
                break
        return nodes[0] if len(nodes) == 1 else ("and", *nodes)

    def _not(self) -> tuple:
        if self._peek() == ("op", "NOT"):
            self.pos += 1
            return ("not", self._not())
        return self._atom()

    def _atom(self) -> tuple:
        tok = self._peek()
        if tok is None:
            last = self.tokens[-1][1]
            if last in _OPERATORS:
                raise KeywordSyntaxError(f"{last} at the end of {self.rule!r}", f"put a term after {last}")
            raise KeywordSyntaxError(f"unbalanced parenthesis in {self.rule!r}", "add the missing ')'")
        kind, value = tok
        if kind == "(":
            self.pos += 1
            node = self._or()
            if self._peek() != (")", ")"):
                raise KeywordSyntaxError(f"unbalanced parenthesis in {self.rule!r}", "add the missing ')'")
            self.pos += 1
            return node
        if kind in ("word", "phrase"):
            self.pos += 1
            return ("term", Term(value, phrase=kind == "phrase"))
        if kind == ")":
            raise KeywordSyntaxError(f"empty parentheses or a missing term before ')' in {self.rule!r}", "put a term inside the parentheses")
        raise KeywordSyntaxError(f"{value} without a term before it in {self.rule!r}", f"put a term on both sides of {value}")


def parse_rule(rule: str) -> tuple:
    """Parse one keyword rule into a tree of ("and"|"or"|"not"|"term", ...) tuples."""
    return _Parser(rule).parse()


def _term_pattern(term: Term, *, lower: bool = False) -> str:
    """The regex of one term; ``lower`` for searching already lower-cased text without re.IGNORECASE."""
    words = (term.text.lower() if lower else term.text).split()
    parts = []
    for i, word in enumerate(words):
        if word.endswith("*") and len(word) > 1 and i == len(words) - 1:
            parts.append(re.escape(word[:-1]) + r"\w*")
        else:
            parts.append(re.escape(word))
    # Phrases tolerate any run of spaces or punctuation between words ("Acme-Cloud", "Acme  Cloud").
    return r"(?<!\w)" + r"[\W_]+".join(parts) + r"(?!\w)"


def _any_term(patterns: Iterable[str]) -> str:
    """One regex for several term patterns, the shared look-behind hoisted out of the alternation
    (re tries it at every position for every branch otherwise: six times slower)."""
    return r"(?<!\w)(?:" + "|".join(sorted(p.removeprefix(r"(?<!\w)") for p in patterns)) + ")"


def positive_terms(node: tuple) -> list[Term]:
    """Terms a post must contain for the rule to match: what a search API should be asked for."""
    kind = node[0]
    if kind == "term":
        return [node[1]]
    if kind == "not":
        return []
    out: list[Term] = []
    for child in node[1:]:
        out.extend(positive_terms(child))
    return out


# The words a post is read as for the rule index: runs of letters and digits. Underscores split
# too, since a phrase matches across them ("acme_cloud" is "Acme Cloud").
_INDEX_WORD = re.compile(r"[^\W_]+")


def _term_words(term: SearchTerm) -> list[str]:
    """The index words every post holding ``term`` holds: each run of letters and digits of its
    words, lower-cased, but a prefix's unfinished last run (``acme*`` has none)."""
    runs = _INDEX_WORD.findall(term.text.lower())
    return runs[:-1] if term.prefix else runs


def _rule_words(query: Query) -> list[set[str]] | None:
    """Per alternative of a rule, the index words a match of it holds; None when some
    alternative holds none (prefix words only): that rule runs for every post."""
    groups = [{w for t in group for w in _term_words(t)} for group in query.alternatives]
    return groups if groups and all(groups) else None


PREFILTER_TERMS = 200  # up to this many distinct terms, the one-regex prefilter runs first
INDEX_ABOVE = 50  # with more rules than this, the rule index picks which ones run
BOUND = "bound source"  # the keyword of a post kept because its source is bound to the brand
MAX_ALTERNATIVES = 256  # (a OR b) AND (c OR d) AND … multiplies: past this a rule is a mistake


def _groups(node: tuple) -> list[tuple[Term, ...]]:
    """The rule's positive terms as an OR of AND groups (NOT parts say nothing a search can use)."""
    kind = node[0]
    if kind == "term":
        return [(node[1],)]
    if kind == "not":
        return [()]
    if kind == "or":
        return [group for child in node[1:] for group in _groups(child)]
    out: list[tuple[Term, ...]] = [()]
    for child in node[1:]:
        out = [a + tuple(t for t in b if t not in a) for a in out for b in _groups(child)]
        if len(out) > MAX_ALTERNATIVES:
            break
    return out


def search_query(rule: str, tree: tuple) -> Query:
    """What a search API is asked for one rule: every search anchored on the terms all its matches
    contain (``"Acme" AND (outage OR support)`` never becomes a search for "support" alone)."""
    groups = list(dict.fromkeys(g for g in _groups(tree) if g))
    if len(groups) > MAX_ALTERNATIVES:
        raise KeywordSyntaxError(
            f"{rule!r} expands to more than {MAX_ALTERNATIVES} alternative searches",
            "split it into several rules, or AND it with a term every match contains (the brand's name)")
    anchor = tuple(t for t in groups[0] if all(t in g for g in groups[1:]))

    def sent(term: Term) -> SearchTerm:
        prefix = term.text.endswith("*")
        return SearchTerm(term.text.rstrip("*").strip() if prefix else term.text, term.phrase, prefix)

    return Query(tuple(map(sent, anchor)), tuple(tuple(map(sent, g)) for g in groups))


Predicate = Callable[[str, dict], bool]


def _compile(node: tuple, flags: int) -> Predicate:
    kind = node[0]
    if kind == "term":
        term = node[1]
        # Case-insensitive terms search the lower-cased text (made once per post): case-folding
        # inside the regex engine costs several times more.
        folded = bool(flags & re.IGNORECASE)
        regex = re.compile(_term_pattern(term, lower=folded), flags & ~re.IGNORECASE)
        # A substring test on the first word rejects most posts before the regex runs.
        needle = (term.text.lower() if folded else term.text).split()[0].rstrip("*")

        # The post's cache of term results is keyed by what was searched too: re.compile hands
        # back one object for "acme" whether it searches the lower-cased text (a brand's
        # case-insensitive rule) or the text as written (a case-sensitive brand's).
        key = (regex, folded)

        def has_term(text: str, seen: dict) -> bool:
            hit = seen.get(key)
            if hit is None:
                haystack = seen["lower"] if folded else text
                hit = seen[key] = needle in haystack and regex.search(haystack) is not None
            return hit

        return has_term
    if kind == "not":
        inner = _compile(node[1], flags)
        return lambda text, seen: not inner(text, seen)
    children = [_compile(child, flags) for child in node[1:]]
    if kind == "and":
        return lambda text, seen: all(child(text, seen) for child in children)
    return lambda text, seen: any(child(text, seen) for child in children)


@dataclass(frozen=True)
class BrandRules:
    """One brand's compiled rules."""

    name: str
    keywords: tuple[tuple[str, Predicate], ...]
    exclude: tuple[Predicate, ...]
    languages: frozenset[str]
    terms: tuple[Term, ...]
    queries: tuple[Query, ...] = ()  # one per rule: what search APIs are asked for


class Matcher:
    """Every brand's keyword rules, compiled once per config."""

    def __init__(self, brands: Sequence[BrandRules], *, index_above: int = INDEX_ABOVE) -> None:
        self.brands = tuple(brands)
        self._by_name = {b.name: b for b in self.brands}
        self._brand_patterns: dict[tuple[str, ...], re.Pattern | None] = {}
        self._queries = tuple(dict.fromkeys(q for b in self.brands for q in b.queries))
        # With a few terms, one alternation of them all rejects most posts faster than reading
        # their words (over the lower-cased text: a superset whatever a brand's case rule); with
        # thousands it costs more than it saves, and the index alone decides.
        terms = {t for b in self.brands for t in b.terms}
        self._prefilter = (re.compile(_any_term({_term_pattern(t, lower=True) for t in terms}))
                           if 0 < len(terms) <= PREFILTER_TERMS else None)
        # The rule index: each rule filed under one word of each of its alternatives, its rarest
        # across all rules (a match holds all of some alternative, so that word; a brand's name
        # is in all of its rules, a product's name in one), so a post's own words pick the rules
        # worth running; rules with an alternative of prefix words only run for every post.
        # Below ``index_above`` rules, running them all is cheaper than reading a post's words.
        self._index: dict[str, list[tuple[int, int]]] = {}
        self._always: list[tuple[int, int]] = []
        words: dict[tuple[int, int], list[set[str]]] = {}
        rules = sum(len(b.keywords) for b in self.brands)
        self._indexed = rules > index_above
        for b, brand in enumerate(self.brands if self._indexed else ()):
            aligned = len(brand.queries) == len(brand.keywords)
            for r in range(len(brand.keywords)):
                found = _rule_words(brand.queries[r]) if aligned else None
                if found is None:
                    self._always.append((b, r))
                else:
                    words[(b, r)] = found
        rules_with = collections.Counter(w for groups in words.values() for w in set().union(*groups))
        for rule, groups in words.items():
            for key in {min(group, key=lambda w: (rules_with[w], -len(w), w)) for group in groups}:
                self._index.setdefault(key, []).append(rule)

    def _candidates(self, lower: str) -> list[tuple[int, int]]:
        """(brand, rule) pairs a post's words make possible, in config order."""
        found = set(self._always)
        index = self._index
        for word in set(_INDEX_WORD.findall(lower)):
            rules = index.get(word)
            if rules:
                found.update(rules)
        return sorted(found)

    def _rules(self, lower: str) -> Iterator[tuple[BrandRules, Sequence[tuple[str, Predicate]]]]:
        """Each brand with the rules worth running on a post: all of them below ``index_above``
        rules, else the index's candidates, in config order."""
        if not self._indexed:
            for brand in self.brands:
                yield brand, brand.keywords
            return
        for b, pairs in itertools.groupby(self._candidates(lower), key=operator.itemgetter(0)):
            brand = self.brands[b]
            yield brand, [brand.keywords[r] for _, r in pairs]

    def match(self, text: str, language: str | None = None) -> Match | None:
        """The brands whose rules ``text`` satisfies (exclusions win), or None."""
        lower = text.lower()
        if self._prefilter is not None and self._prefilter.search(lower) is None:
            return None
        brands: list[str] = []
        keywords: list[str] = []
        seen: dict = {"lower": lower}
        for brand, rules in self._rules(lower):
            if language and brand.languages and language not in brand.languages:
                continue
            hits = [rule for rule, pred in rules if pred(text, seen)]
            if not hits or any(pred(text, seen) for pred in brand.exclude):
                continue
            brands.append(brand.name)
            keywords.extend(h for h in hits if h not in keywords)
        return Match(tuple(brands), tuple(keywords)) if brands else None

    def bind(self, text: str, language: str | None, found: Match | None, bound: Sequence[str]) -> Match | None:
        """``found`` (the rules' match, or None) with the brands a source is bound to (an app's
        reviews, the brand's own channel): their posts are theirs without a keyword, filed under
        the keyword ``BOUND``, unless the brand's exclusions or languages leave them out."""
        brands, keywords = (list(found.brands), list(found.keywords)) if found else ([], [])
        seen: dict = {"lower": text.lower()}
        for name in bound:
            rules = self._by_name.get(name)
            if name in brands or rules is None:
                continue
            if language and rules.languages and language not in rules.languages:
                continue
            if any(pred(text, seen) for pred in rules.exclude):
                continue
            brands.append(name)
            if BOUND not in keywords:
                keywords.append(BOUND)
        return Match(tuple(brands), tuple(keywords)) if brands else None

    def in_language(self, found: Match, language: str | None) -> Match | None:
        """``found`` without the brands whose ``languages`` leave ``language`` out (a language
        detected after matching), or None when no brand is left."""
        if not language:
            return found
        keep = tuple(name for name in found.brands
                     if not (rules := self._by_name.get(name)) or not rules.languages or language in rules.languages)
        if keep == found.brands:
            return found
        return Match(keep, found.keywords) if keep else None

    def brand_pattern(self, brands: Sequence[str]) -> re.Pattern | None:
        """A regex finding any positive term of ``brands`` (to find the sentences about them)."""
        key = tuple(brands)
        if key not in self._brand_patterns:
            patterns = {_term_pattern(t) for b in self.brands if b.name in brands for t in b.terms}
            self._brand_patterns[key] = re.compile(_any_term(patterns), re.IGNORECASE) if patterns else None
        return self._brand_patterns[key]

    def queries(self) -> tuple[Query, ...]:
        """Every brand's rules as search APIs are asked for them (distinct, in config order)."""
        return self._queries


def compile_brand(
    name: str,
    keywords: Iterable[str],
    exclude: Iterable[str] = (),
    *,
    languages: Iterable[str] = (),
    case_sensitive: bool = False,
) -> BrandRules:
    """Compile one brand's rules; raises KeywordSyntaxError for the first bad rule."""
    flags = 0 if case_sensitive else re.IGNORECASE
    compiled, queries = [], []
    terms: dict[Term, None] = {}  # an ordered set: a list's membership test made 10,000 rules quadratic
    for rule in keywords:
        tree = parse_rule(rule)
        positive = positive_terms(tree)
        if not positive:
            raise KeywordSyntaxError(
                f"{rule!r} has no term outside NOT, so it would match every post",
                "add a term to look for, and put exclusions under exclude",
            )
        compiled.append((rule, _compile(tree, flags)))
        terms.update(dict.fromkeys(positive))
        queries.append(search_query(rule, tree))
    excluded = tuple(_compile(parse_rule(rule), flags) for rule in exclude)
    return BrandRules(name, tuple(compiled), excluded, frozenset(languages), tuple(terms), tuple(queries))
