"""The README and docs/ as a newcomer and an admin read them: short, linked, true."""

from __future__ import annotations

import re
from pathlib import Path

from monitor.config_check import parse_config

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
PAGES = sorted((ROOT / "docs").glob("*.md"))


def test_the_readme_is_what_a_newcomer_needs() -> None:
    assert README.count("\n") <= 250, "keep the README to what a newcomer needs; the reference lives in docs/"
    for command in ("make run", "make test", "monitor demo"):
        assert command in README


def test_every_docs_page_is_linked_from_the_readme() -> None:
    linked = set(re.findall(r"\]\((docs/[^)#]+)", README))
    assert {f"docs/{p.name}" for p in PAGES} <= linked, "link every docs/ page from the README"


def test_every_link_between_pages_resolves() -> None:
    for page in [ROOT / "README.md", ROOT / "monitor" / "schema.md", *PAGES]:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            assert (page.parent / target).exists(), f"{page.name}: a link to {target}, which does not exist"


def test_the_readme_configuration_is_valid() -> None:
    block = re.search(r"## A configuration in 20 lines\n\n```yaml\n(.*?)```", README, re.DOTALL).group(1)
    assert block.count("\n") <= 22
    config = parse_config(block)
    assert [b.name for b in config.brands] == ["Acme Cloud"] and len(config.sources) == 3


def test_every_connector_has_its_section_in_sources() -> None:
    from connectors import REGISTRY

    sources = (ROOT / "docs" / "sources.md").read_text(encoding="utf-8")
    missing = [name for name in REGISTRY if f"`{name}`" not in sources]
    assert missing == []
