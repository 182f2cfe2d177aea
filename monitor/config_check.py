"""Reading config.yaml: YAML with each key's line, and every problem as ``line N: path: what — fix``.

Loading runs in three passes so an admin sees every problem at once: YAML syntax (with duplicate
keys refused, since PyYAML would silently keep the last; tabs, indentation and unclosed quotes
given their column and fix), then the structure (pydantic, the models in ``monitor.config``),
then the meaning (keyword syntax, duplicate names, receivers that exist). What YAML turns into
something else (``10:30`` into 630, ``no`` into false) is told to be quoted, a file that is not
UTF-8 is named with the byte and where it is.
"""

from __future__ import annotations

import difflib
import functools
import os
import re
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Union

import yaml
from pydantic import BaseModel, ValidationError

from connectors import REGISTRY
from monitor.config import Config
from monitor.config_alerts import RECEIVERS
from monitor.errors import ConfigError
from monitor.models import is_postgres
from monitor.judgement.matching import KeywordSyntaxError, check_rule, parse_rule


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the file."""

    path: str
    message: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        where = f"line {self.line}, column {self.column}: " if self.line and self.column else (
            f"line {self.line}: " if self.line else "")
        return f"{where}{self.path}: {self.message}" if self.path else f"{where}{self.message}"


def _path(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# libyaml's loader when PyYAML was built with it (a 5 MB file: seconds, not a minute); its nodes
# carry the same line marks.
_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):  # type: ignore[valid-type,misc]
    """SafeLoader that records where each key is and refuses duplicate keys."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first on line {seen[key]}) — keep only one", key_node.start_mark
            )
        seen[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node, deep=deep)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


_STR_TAG = "tag:yaml.org,2002:str"


def _lines(node: yaml.Node | None, path: tuple = (), out: dict | None = None, plain: dict | None = None) -> dict:
    """Map each key path to its line number by walking the composed YAML tree; ``plain``
    collects the text of every unquoted value YAML did not read as a string (``10:30``, ``no``)."""
    out = {} if out is None else out
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            sub = path + (key_node.value,)
            out[sub] = key_node.start_mark.line + 1
            _lines(value_node, sub, out, plain)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out[path + (i,)] = item.start_mark.line + 1
            _lines(item, path + (i,), out, plain)
    elif isinstance(node, yaml.ScalarNode) and plain is not None and not node.style and node.tag != _STR_TAG:
        plain[path] = node.value
    return out


# YAML 1.1 (PyYAML's) reads these unquoted words as booleans and 10:30 as a base-60 number.
_YAML_BOOLS = {"yes", "no", "on", "off", "y", "n"}


def _quote_hint(raw: str | None, given: Any, kind: str) -> str | None:
    """"quote it" when YAML turned what the admin wrote into something else."""
    if raw is None or not (given is None or isinstance(given, (bool, int, float))):
        return None
    if not (kind == "string_type" or ":" in raw or raw.lower() in _YAML_BOOLS):
        return None
    what = str(given).lower() if isinstance(given, bool) or given is None else f"the number {given!r}"
    return f"YAML read the unquoted {raw} as {what} — quote it: '{raw}'"


class _Where:
    """Where each key path is (``_lines``), walked from the composed tree only when a problem
    asks: a valid file needs none of it (10,000 rules: 22 ms of every command's start-up)."""

    def __init__(self, node: yaml.Node | None) -> None:
        self._node = node

    @functools.cached_property
    def _walked(self) -> tuple[dict, dict]:
        plain: dict = {}
        return _lines(self._node, plain=plain), plain

    @property
    def lines(self) -> dict:
        return self._walked[0]

    @property
    def plain(self) -> dict:
        return self._walked[1]


def _line_of(where: "_Where", loc: tuple) -> int | None:
    lines = where.lines
    while loc:
        if loc in lines:
            return lines[loc]
        loc = loc[:-1]
    return None


def _unwrap(annotation: Any) -> list:
    """The model classes an annotation can hold (through Optional, list, Annotated, Union)."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (list, Union) or str(origin) == "types.UnionType":
        return [m for arg in typing.get_args(annotation) for m in _unwrap(arg)]
    return [annotation] if isinstance(annotation, type) and issubclass(annotation, BaseModel) else []


def _narrow(candidates: list, node: Any) -> list:
    """Of a discriminated union's models, the one the item's own ``type:`` names."""
    if len(candidates) < 2:
        return candidates
    tag = node.get("type") if isinstance(node, dict) else None
    return [c for c in candidates if c.model_fields["type"].default == tag] or candidates[:1]


def _model_at(loc: tuple, data: Any) -> type[BaseModel] | None:
    """The model class that owns the mapping at ``loc`` (to suggest its keys)."""
    candidates: list = [Config]
    node = data
    for part in loc:
        if isinstance(part, int):
            node = node[part] if isinstance(node, list) and part < len(node) else None
            continue
        field = _narrow(candidates, node)[0].model_fields.get(part)
        if field is None:
            return None
        node = node.get(part) if isinstance(node, dict) else None
        candidates = _unwrap(field.annotation)
        if not candidates:
            return None
    return _narrow(candidates, node)[0]


def _drop_tags(loc: tuple) -> tuple:
    """Pydantic puts a discriminated union's tag in the location; an admin never wrote it."""
    tags = set(REGISTRY) | set(_RECEIVER_TYPES)
    return tuple(p for i, p in enumerate(loc) if not (i and isinstance(loc[i - 1], int) and p in tags))


_RECEIVER_TYPES = tuple(r.model_fields["type"].default for r in RECEIVERS)

# Keys an older release took, with what replaced them.
_STORM_RULE = ("no longer used: the storm rule replaced the log-volume detector in 2026-12 — remove it; "
               "spikes.storm_ratio, fast_ratio and bar_factor set how big a storm must be")
RETIRED = {("spikes", key): _STORM_RULE for key in ("surprise", "extreme", "novelty", "novelty_half_life")}
RETIRED["spikes", "drop_threshold"] = ("no longer used: a drop is now every window at most spikes.drop_ratio × "
                                       "expected (default 0.2) — remove it, or set drop_ratio")


def _describe(error: dict, loc: tuple, data: Any) -> str:
    kind = error["type"]
    given = error.get("input")
    in_sources = bool(loc) and loc[0] == "sources"
    types = ", ".join(sorted(REGISTRY) if in_sources else _RECEIVER_TYPES)
    if kind == "extra_forbidden":
        if tuple(loc[-2:]) in RETIRED:
            return RETIRED[tuple(loc[-2:])]
        model = _model_at(loc[:-1], data)
        known = list(model.model_fields) if model else []
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"remove it (known keys: {', '.join(known)})"
        return f"unknown key — {hint}"
    if kind == "missing":
        return "required — add this key"
    if kind == "union_tag_invalid":
        what = "connector" if in_sources else "receiver"
        tag = str(error["ctx"]["tag"])
        close = difflib.get_close_matches(tag.lower().replace("-", "").replace("_", ""),
                                          sorted(REGISTRY) if in_sources else _RECEIVER_TYPES, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return f"unknown {what} type {tag!r} — {hint}use one of: {types}"
    if kind == "union_tag_not_found":
        return f"missing type — add type: with one of: {types}"
    if kind in ("value_error", "assertion_error"):
        return str(error["ctx"]["error"])
    if kind == "literal_error":
        return f"{given!r} is not allowed — use one of: {error['ctx']['expected']}"
    if kind == "too_short" and isinstance(given, list):
        return "must not be empty — add at least one entry"
    if kind.endswith("_type") or kind.endswith("_parsing"):
        want = error["msg"].replace("Input should be ", "").split(",")[0].rstrip(".")
        return f"expected {want}, got {given!r} — fix the value's type"
    return f"{error['msg']} (got {given!r})"


def _validate_structure(data: Any, where: _Where) -> tuple[Config | None, list[Problem]]:
    try:
        return Config.model_validate(data), []
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = _drop_tags(tuple(error["loc"]))
            if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
                loc += ("type",)
            message = _quote_hint(where.plain.get(loc), error.get("input"), error["type"]) or _describe(error, loc, data)
            problems.append(Problem(_path(loc), message, _line_of(where, loc)))
        return None, problems


def _check_names(data: dict, add) -> None:
    """Every brand, source and receiver named once."""
    for section, what in (("brands", "brand"), ("sources", "source"), ("receivers", "receiver")):
        items = data.get(section)
        first: dict[str, int] = {}
        for i, item in enumerate(items if isinstance(items, list) else []):
            name = item.get("name") if isinstance(item, dict) else None
            if not isinstance(name, str):
                continue
            if name in first:
                add((section, i, "name"), f"duplicate name {name!r} (also {section}[{first[name]}]) — give each {what} a unique name")
            else:
                first[name] = i


# A rule that is one quoted phrase with a word in it, the commonest shape at agency scale, is
# readable without parsing (10,000 of them took a third of every command's start-up).
_ONE_PHRASE = re.compile(r'\s*"[^"]*[^\s"][^"]*"\s*')


def _check_keywords(data: dict, add) -> None:
    """Every keyword and exclusion rule readable (the syntax errors name the fix)."""
    brands = data.get("brands")
    for i, brand in enumerate(brands if isinstance(brands, list) else []):
        if not isinstance(brand, dict):
            continue
        for key in ("keywords", "exclude"):
            rules = brand.get(key)
            for j, rule in enumerate(rules if isinstance(rules, list) else []):
                if not isinstance(rule, str) or _ONE_PHRASE.fullmatch(rule):
                    continue
                try:
                    check_rule(rule) if key == "keywords" else parse_rule(rule)
                except KeywordSyntaxError as exc:
                    add(("brands", i, key, j), str(exc))


def _validate_meaning(data: dict, where: _Where) -> list[Problem]:
    """Checks that need more than one value: keyword syntax, unique names, known receivers and brands."""
    problems: list[Problem] = []

    def add(loc: tuple, message: str) -> None:
        problems.append(Problem(_path(loc), message, _line_of(where, loc)))

    _check_names(data, add)
    _check_keywords(data, add)

    receivers = data.get("receivers")
    known = {r.get("name") for r in receivers if isinstance(r, dict)} if isinstance(receivers, list) else {"console"}
    alerts = data.get("alerts")
    wanted = alerts.get("receivers") if isinstance(alerts, dict) else None
    for i, name in enumerate(wanted if isinstance(wanted, list) else []):
        if isinstance(name, str) and name not in known:
            names = ", ".join(sorted(n for n in known if isinstance(n, str))) or "none defined"
            add(("alerts", "receivers", i), f"unknown receiver {name!r} — use one of: {names}")

    brands = data.get("brands")
    brand_names = [b.get("name") for b in brands if isinstance(b, dict)] if isinstance(brands, list) else []
    sources = data.get("sources")
    for i, source in enumerate(sources if isinstance(sources, list) else []):
        bound = source.get("brands") if isinstance(source, dict) else None
        for j, name in enumerate(bound if isinstance(bound, list) else []):
            if isinstance(name, str) and name not in brand_names:
                close = difflib.get_close_matches(name, [n for n in brand_names if isinstance(n, str)], n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                names = ", ".join(repr(n) for n in brand_names if isinstance(n, str)) or "none defined"
                add(("sources", i, "brands", j), f"unknown brand {name!r} — {hint}use one of: {names}")

    route = data.get("route")
    if isinstance(route, dict) and not route.get("receiver"):
        add(("route", "receiver"), "the root route needs a receiver — add receiver: with one of your receivers' names")

    nodes = list(_route_nodes(route, ("route",)))
    for node, loc in nodes:
        name = node.get("receiver")
        if isinstance(name, str) and name not in known:
            names = ", ".join(sorted(n for n in known if isinstance(n, str))) or "none defined"
            close = difflib.get_close_matches(name, [n for n in known if isinstance(n, str)], n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            add((*loc, "receiver"), f"unknown receiver {name!r} — {hint}use one of: {names}")

    windows = data.get("quiet_hours")
    window_names = {w.get("name") for w in windows if isinstance(w, dict)} if isinstance(windows, list) else set()
    for node, loc in nodes:
        kept = node.get("quiet_hours")
        for i, name in enumerate(kept if isinstance(kept, list) else []):
            if isinstance(name, str) and name not in window_names:
                names = ", ".join(sorted(n for n in window_names if isinstance(n, str))) or "none defined under quiet_hours"
                add((*loc, "quiet_hours", i), f"unknown quiet_hours window {name!r} — use one of: {names}")
    return problems


def _route_nodes(node: object, loc: tuple):
    """Every route of a raw routing tree (dicts), depth first, with its key path."""
    if not isinstance(node, dict):
        return
    yield node, loc
    children = node.get("routes")
    for i, child in enumerate(children if isinstance(children, list) else []):
        yield from _route_nodes(child, (*loc, "routes", i))


ALIAS_BUDGET = 100_000  # values aliases may add beyond those written out (a "billion laughs" adds 9^9)


def _alias_bomb(node: yaml.Node | None) -> Problem | None:
    """A problem when aliases would expand the document past ``ALIAS_BUDGET`` more values than it
    writes out, at the anchor that expands most: found on the node graph, where an alias is the
    anchored node itself, in time linear in the file, before anything walks the expansion."""
    if node is None:
        return None
    size: dict[int, int] = {}
    uses: dict[int, int] = {}
    nodes: dict[int, yaml.Node] = {}
    stack: list[tuple[yaml.Node, bool]] = [(node, False)]
    while stack:
        current, done = stack.pop()
        key = id(current)
        children = ([n for pair in current.value for n in pair] if isinstance(current, yaml.MappingNode) else
                    list(current.value) if isinstance(current, yaml.SequenceNode) else [])
        if done:
            size[key] = 1 + sum(size[id(c)] for c in children)
            continue
        uses[key] = uses.get(key, 0) + 1
        if key in nodes:
            continue  # an alias: its size is counted once, where the anchor is
        nodes[key] = current
        stack.append((current, True))
        stack.extend((c, False) for c in children)
    total = size[id(node)]  # each node's size counts its aliased children in full
    if total - len(nodes) <= ALIAS_BUDGET:
        return None
    worst = max((k for k in nodes if uses[k] > 1), key=lambda k: uses[k] * size[k])
    return Problem("", f"YAML aliases expand this file to {total:,} values, {total - len(nodes):,} more than it writes "
                       f"out (at most {ALIAS_BUDGET:,}) — write the values out, or use fewer aliases of this anchor",
                   nodes[worst].start_mark.line + 1)


def parse_config(text: str, *, path: str = "config.yaml") -> Config:
    """Validate config text; raise ConfigError listing every problem."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        bomb = _alias_bomb(node) if "&" in text else None  # no anchor, no alias: nothing to expand
        if bomb is not None:
            raise ConfigError([str(bomb)], path=path)
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
        message = f"{exc.problem}" if exc.problem else str(exc)
        if exc.context and "duplicate key" not in message:
            message = f"{exc.context}, {message}"
        at = text.splitlines()[mark.line][mark.column:mark.column + 1] if mark and mark.line < len(text.splitlines()) else ""
        fix = " — indent with spaces, not tabs (a tab is at this column)" if at == "\t" else _yaml_fix(message)
        raise ConfigError([str(Problem("", f"invalid YAML: {message}{fix}", line, column))], path=path) from exc
    except yaml.YAMLError as exc:
        raise ConfigError([f"invalid YAML: {exc}"], path=path) from exc
    finally:
        loader.dispose()
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(["the file must be a mapping of keys (brands:, sources:, …), not a list or a value"], path=path)
    where = _Where(node)
    config, problems = _validate_structure(data, where)
    problems += _validate_meaning(data, where)
    seen, unique = set(), []
    for p in sorted(problems, key=lambda p: (p.line or 0)):
        if (p.path, p.message) not in seen:
            seen.add((p.path, p.message))
            unique.append(p)
    if unique or config is None:
        raise ConfigError([str(p) for p in unique], path=path)
    return config


def _yaml_fix(message: str) -> str:
    """The fix for PyYAML's commonest complaints, which name the symptom, not the cause."""
    if "mapping values are not allowed" in message:
        return (" — check the indentation of this line against the one above (keys at one depth line up, with"
                " spaces), and quote a value that contains ': '")
    if "expected <block end>" in message or "did not find expected key" in message or "expected '-'" in message:
        return " — check the indentation: this line must line up with its siblings above (spaces only)"
    if "could not find expected ':'" in message:
        return " — put ': ' after the key, or quote the value if it is text"
    if "found unexpected end of stream" in message or "unclosed" in message or "quoted scalar" in message:
        return " — close the quote"
    return ""


def _decode(raw: bytes, path: str) -> str:
    """The file's text; a file saved as UTF-16 or Latin-1 is refused with where and the fix."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or (len(raw) > 1 and b"\x00" in raw[:64]):
        raise ConfigError([str(Problem("", "the file is saved as UTF-16 — save it as UTF-8 (your editor's"
                                           " \"Save with encoding\")", 1, 1))], path=path)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        byte = raw[exc.start]
        raise ConfigError([str(Problem("", f"byte 0x{byte:02x} is not UTF-8 (in Latin-1 it would be {chr(byte)!r}) — "
                                           "save the file as UTF-8", line, column))], path=path) from exc


def load_config(path: str | os.PathLike) -> Config:
    """Read and validate config.yaml at ``path``."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise ConfigError(["no such file — create it (see config.yaml in the repository) or pass --config"], path=str(path)) from exc
    except OSError as exc:
        raise ConfigError([f"cannot read the file: {exc}"], path=str(path)) from exc
    config = parse_config(_decode(raw, str(path)), path=str(path))
    # A relative database is the config's neighbour, wherever the command runs from (a cron job
    # started in another folder would otherwise write a second, empty database).
    database = Path(config.database).expanduser()
    if config.database != ":memory:" and not is_postgres(config.database) and not database.is_absolute():
        config = config.model_copy(update={"database": str(path.resolve().parent / database)})
    return config
