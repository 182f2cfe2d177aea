"""Keyword rules: parsing ``"quoted phrases"``, ``AND``/``OR``/``NOT`` and parentheses, and matching.

A rule is compiled once per config into a small tree of regular expressions; matching a post
walks that tree, testing each term at most once. Terms match whole words, case-insensitively
unless the brand asks otherwise; ``word*`` matches a prefix. Adjacent terms without an
operator are ANDed, as in most search boxes. Only upper-case AND/OR/NOT are operators, so a
brand called "Salt and Pepper" still works when quoted.
"""

from __future__ import annotations

import collections
import contextlib
import gc
import functools
import itertools
import operator
import re
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, NamedTuple, Sequence

from monitor.models import Match, Query, SearchTerm


class KeywordSyntaxError(ValueError):
    """A keyword rule cannot be parsed; ``problem`` and ``fix`` become the config error."""

    def __init__(self, problem: str, fix: str) -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(f"{problem} — {fix}")


_TOKEN = re.compile(r'\s*(?:(?P<lp>\()|(?P<rp>\))|"(?P<phrase>[^"]*)"|(?P<quote>")|(?P<word>[^\s()"]+))')
_OPERATORS = {"AND", "OR", "NOT"}


class Term(NamedTuple):
    """A word, prefix or phrase; ``text`` is how a search API should be sent it (a tuple:
    compared and hashed in C, a config's 100,000 rules compare many)."""

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


_RUN = re.compile(r"\w+")  # a whole word, as a term's (?<!\w)…(?!\w) sees it
_ASCII_RUN = re.compile(r"\w+", re.ASCII)  # the same on ASCII text, a fifth faster
HIT_SETS = 4096  # the rule lists of this many distinct sets of true rules are kept (posts in a storm share them)
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
    return Query(tuple(map(_sent, anchor)), tuple(tuple(map(_sent, g)) for g in groups))


@functools.lru_cache(maxsize=65536)
def _sent(term: Term) -> SearchTerm:
    """A term as a search API is sent it (made once: rules repeat their terms)."""
    prefix = term.text.endswith("*")
    return SearchTerm(term.text.rstrip("*").strip() if prefix else term.text, term.phrase, prefix)


Predicate = Callable[[str, dict], bool]


def _compile(node: tuple, flags: int) -> Predicate:
    kind = node[0]
    if kind == "term":
        term = node[1]
        # Case-insensitive terms search the lower-cased text (made once per post): case-folding
        # inside the regex engine costs several times more.
        folded = bool(flags & re.IGNORECASE)
        pattern = _term_pattern(term, lower=folded)
        # A substring test on the first word rejects most posts before the regex runs.
        needle = (term.text.lower() if folded else term.text).split()[0].rstrip("*")
        # The post's cache of term results is keyed by what was searched too: the pattern of
        # "acme" is the same whether it searches the lower-cased text (a brand's case-insensitive
        # rule) or the text as written (a case-sensitive brand's).
        key = (pattern, folded)
        regex: re.Pattern | None = None  # compiled when a post first needs it: plain rules never do

        def has_term(text: str, seen: dict) -> bool:
            nonlocal regex
            hit = seen.get(key)
            if hit is None:
                haystack = seen["lower"] if folded else text
                hit = needle in haystack
                if hit:
                    if regex is None:
                        regex = re.compile(pattern)
                    hit = regex.search(haystack) is not None
                seen[key] = hit
            return hit

        return has_term
    if kind == "not":
        inner = _compile(node[1], flags)
        return lambda text, seen: not inner(text, seen)
    children = [_compile(child, flags) for child in node[1:]]
    if kind == "and":
        return lambda text, seen: all(child(text, seen) for child in children)
    return lambda text, seen: any(child(text, seen) for child in children)


def _holds(pred: Predicate, text: str, seen: dict) -> bool:
    """``pred`` on a post, once: rules with the same tree share one predicate (``compile_brand``)."""
    hit = seen.get(pred)
    if hit is None:
        hit = seen[pred] = pred(text, seen)
    return hit


_NONE: frozenset = frozenset()


class _WordSets:
    """Sets of words, each the words one alternative of some rules holds, with those rules; each
    set filed under its word in the fewest sets, so a post's words reach only sets they may fill."""

    def __init__(self, alternatives: dict[frozenset[str], list[tuple[int, int]]]) -> None:
        self.sets = list(alternatives)
        self.rules = [alternatives[s] for s in self.sets]
        count = collections.Counter(w for s in self.sets for w in s)
        self.by_word: dict[str, list[int]] = {}
        for i, words in enumerate(self.sets):
            self.by_word.setdefault(min(words, key=lambda w: (count[w], -len(w), w)), []).append(i)

    def satisfied(self, words: set[str]) -> frozenset[int]:
        """The sets ``words`` holds all of."""
        keys = self.by_word.keys() & words  # iterates the smaller side, in C
        if not keys:
            return _NONE
        sets, by_word = self.sets, self.by_word
        return frozenset(i for w in keys for i in by_word[w] if sets[i] <= words)


class _RuleIndex:
    """Which rules a post's words make possible. A *plain* rule (whole words, AND and OR, no case
    rule) is decided by its words alone: it holds when the post's words hold one of its
    alternatives, with no regex run. Any other rule is filed under the index words of its
    alternatives and run when a post holds them all; rules with an alternative of prefix words
    only run for every post."""

    def __init__(self, brands: Sequence["BrandRules"]) -> None:
        exact: dict[frozenset[str], list[tuple[int, int]]] = {}
        loose: dict[frozenset[str], list[tuple[int, int]]] = {}
        self.always: list[tuple[int, int]] = []
        for b, brand in enumerate(brands):
            aligned = len(brand.queries) == len(brand.keywords)
            for r in range(len(brand.keywords)):
                if aligned and brand.plain and brand.plain[r]:
                    for group in brand.queries[r].alternatives:
                        exact.setdefault(frozenset(t.text.lower() for t in group), []).append((b, r))
                    continue
                found = _rule_words(brand.queries[r]) if aligned else None
                if found is None:
                    self.always.append((b, r))
                    continue
                for group in found:
                    loose.setdefault(frozenset(group), []).append((b, r))
        self.exact = _WordSets(exact)
        self.loose = _WordSets(loose)


@dataclass(frozen=True)
class BrandRules:
    """One brand's compiled rules."""

    name: str
    keywords: tuple[tuple[str, Predicate], ...]
    exclude: tuple[Predicate, ...]
    languages: frozenset[str]
    terms: tuple[Term, ...]
    queries: tuple[Query, ...] = ()  # one per rule: what search APIs are asked for
    plain: tuple[bool, ...] = ()  # per rule: decided by its whole words alone (see _RuleIndex)


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
        # Below ``index_above`` rules, running them all is cheaper than reading a post's words.
        rules = sum(len(b.keywords) for b in self.brands)
        self._indexed = rules > index_above
        with _collector_paused():
            self._index = _RuleIndex(self.brands if self._indexed else ())
        self._hits: dict[tuple, list[tuple[BrandRules, tuple[str, ...]]]] = {}  # true rules -> hits

    def _rules(self, lower: str, text: str, seen: dict) -> list[tuple[BrandRules, tuple[str, ...]]]:
        """Each brand with the rules ``text`` satisfies, in config order (possibly none)."""
        if not self._indexed:
            return [(brand, tuple(dict.fromkeys(rule for rule, pred in brand.keywords if pred(text, seen))))
                    for brand in self.brands]
        index = self._index
        runs = set((_ASCII_RUN if lower.isascii() else _RUN).findall(lower))
        exact = index.exact.satisfied(runs)
        loose = index.loose.satisfied({w for run in runs for w in run.split("_") if w} if "_" in lower else runs)
        if not (exact or loose or index.always):
            return []  # most posts: none of their words completes an alternative
        candidates = {rule for s in loose for rule in index.loose.rules[s]}
        candidates.update(index.always)
        brands = self.brands
        true = frozenset(rule for rule in candidates if _holds(brands[rule[0]].keywords[rule[1]][1], text, seen))
        key = (exact, true)
        hits = self._hits.get(key)
        if hits is None:
            found = sorted({rule for s in exact for rule in index.exact.rules[s]} | true)
            hits = [(brands[b], tuple(dict.fromkeys(brands[b].keywords[r][0] for _, r in pairs)))
                    for b, pairs in itertools.groupby(found, key=operator.itemgetter(0))]
            if len(self._hits) >= HIT_SETS:
                self._hits.clear()
            self._hits[key] = hits
        return hits

    def match(self, text: str, language: str | None = None) -> Match | None:
        """The brands whose rules ``text`` satisfies (exclusions win), or None."""
        lower = text.lower()
        if self._prefilter is not None and self._prefilter.search(lower) is None:
            return None
        brands: list[str] = []
        keywords: list[str] = []
        seen: dict = {"lower": lower}
        for brand, hits in self._rules(lower, text, seen):  # a brand's language is checked after: rare
            if not hits or (language and brand.languages and language not in brand.languages):
                continue
            if any(pred(text, seen) for pred in brand.exclude):
                continue
            brands.append(brand.name)
            keywords.append(hits)
        if not brands:
            return None
        return Match(tuple(brands), keywords[0] if len(keywords) == 1 else tuple(dict.fromkeys(itertools.chain(*keywords))))

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


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cycle collector held while rules compile: the thousands of small trees and
    closures a big config makes, none of them garbage, set it off again and again (two thirds
    of compiling 100,000 rules)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def check_rule(rule: str) -> tuple[tuple, list[Term], Query]:
    """One keyword rule read as ``compile_brand`` reads it (its tree, its positive terms, its
    search), without compiling anything; raises KeywordSyntaxError as it would."""
    parsed = parse_rule(rule)
    positive = positive_terms(parsed)
    if not positive:
        raise KeywordSyntaxError(
            f"{rule!r} has no term outside NOT, so it would match every post",
            "add a term to look for, and put exclusions under exclude",
        )
    return parsed, positive, search_query(rule, parsed)  # the search in the rule's own order


def brand_first(query: Query, brand: str) -> Query:
    """``query`` with the terms that name the brand (its name, a word of it, a phrase of its
    words) before the others in each group: a source that sends one term of a rule, or follows
    one as a hashtag, sends the brand's (``acme AND billing`` is a search for "acme", never for
    "billing"), else the term the rule names first."""
    words = set(brand.casefold().split())

    def names(term: SearchTerm) -> bool:
        text = term.text.casefold()
        return text == brand.casefold() or text in words or bool(set(text.split()) & words)

    def ordered(group: tuple[SearchTerm, ...]) -> tuple[SearchTerm, ...]:
        return tuple(sorted(group, key=lambda t: not names(t)))

    return Query(ordered(query.anchor), tuple(ordered(g) for g in query.alternatives))


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
    compiled, queries, plain = [], [], []
    terms: dict[Term, None] = {}  # an ordered set: a list's membership test made 10,000 rules quadratic
    shared: dict[tuple, Predicate] = {}  # one predicate per distinct tree: a post runs it once
    with _collector_paused():
        for rule in keywords:
            parsed, positive, query = check_rule(rule)
            query = brand_first(query, name)
            tree = _canonical(parsed)
            if tree not in shared:
                shared[tree] = _compile(tree, flags)
            compiled.append((rule, shared[tree]))
            terms.update(dict.fromkeys(positive))
            queries.append(query)
            plain.append(not case_sensitive and _plain(tree))
    excluded = tuple(_compile(parse_rule(rule), flags) for rule in exclude)
    return BrandRules(name, tuple(compiled), excluded, frozenset(languages), tuple(terms), tuple(queries), tuple(plain))


def _canonical(node: tuple) -> tuple:
    """The tree with AND's and OR's children in one order, repeats dropped: rules that differ
    only in order share a predicate."""
    if node[0] == "term":
        return node
    if node[0] == "not":
        return ("not", _canonical(node[1]))
    children = sorted(dict.fromkeys(map(_canonical, node[1:])), key=repr)
    return children[0] if len(children) == 1 else (node[0], *children)


def _plain(node: tuple) -> bool:
    """Whole words under AND and OR only: true of a post exactly when its words hold all of one
    alternative (a word's pattern finds it just where it is a whole run of word characters)."""
    if node[0] == "term":
        return _RUN.fullmatch(node[1].text.lower()) is not None
    return node[0] != "not" and all(map(_plain, node[1:]))
