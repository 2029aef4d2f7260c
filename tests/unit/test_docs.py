"""The docs stand alone: every relative link in README.md and docs/*.md resolves inside the repo
(files and #anchors), and nothing cites a document that is not in the repo."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]

_FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
_CODE_SPAN = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"(?<!!)\[(?:[^\]]*)\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)
_EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)  # http:, https:, mailto:


def _prose(text: str) -> str:
    """The text without fenced code blocks and code spans (a link there is not a link)."""
    return _CODE_SPAN.sub("", _FENCE.sub("", text))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading keeps its text
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: Counter[str] = Counter()
    found = set()
    for heading in _HEADING.findall(_FENCE.sub("", path.read_text())):
        base = slug(heading)
        found.add(base if seen[base] == 0 else f"{base}-{seen[base]}")
        seen[base] += 1
    return found


def _links(path: Path) -> list[str]:
    return [target for target in _LINK.findall(_prose(path.read_text())) if not _EXTERNAL.match(target)]


def test_the_checker_sees_links_and_anchors() -> None:
    # guards the regexes: a checker that finds nothing would pass everything
    assert "docs/rules.md" in _links(REPO / "README.md")
    assert "status" in anchors(REPO / "README.md")
    assert "windows-are-checked-at-the-alerts-own-time" in anchors(REPO / "docs" / "rules.md")
    assert slug("What gets validated against the tenant (422 naming the field)") == (
        "what-gets-validated-against-the-tenant-422-naming-the-field"
    )


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_resolves_inside_the_repo(doc: Path) -> None:
    problems = []
    for target in _links(doc):
        file_part, _, anchor = target.partition("#")
        resolved = (doc.parent / file_part).resolve() if file_part else doc
        if not resolved.is_relative_to(REPO):
            problems.append(f"{target}: outside the repository")
            continue
        if not resolved.exists():
            problems.append(f"{target}: no such file")
            continue
        if anchor and (resolved.suffix != ".md" or anchor not in anchors(resolved)):
            problems.append(f"{target}: no heading #{anchor} in {resolved.relative_to(REPO)}")
    assert problems == []


_OUTSIDE = re.compile(r"REFERENCE\.md|CONTRACT\.md|PRD\b|\bFR-\d+")


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_docs_cite_no_document_outside_the_repo(doc: Path) -> None:
    lines = doc.read_text().splitlines()
    assert [f"{doc.name}:{n}: {line}" for n, line in enumerate(lines, 1) if _OUTSIDE.search(line)] == []


# Docstrings and comments too (Python files and the scripts): a reader of the code must be able to
# look up what it cites. Migration SQL is not checked: shipped migrations are frozen by checksums.
_CODE_DIRS = ("layers", "functions", "infra", "scripts", "tests")


def _code_files() -> list[Path]:
    found: list[Path] = []
    for folder in _CODE_DIRS:
        for path in sorted((REPO / folder).rglob("*")):
            if not path.is_file() or "node_modules" in path.parts or "cdk.out" in path.parts:
                continue
            if path == Path(__file__).resolve():
                continue
            if path.suffix == ".py" or (path.parent.name == "scripts" and path.suffix == ""):
                found.append(path)
    return found


def test_the_code_checker_sees_the_code() -> None:
    files = {p.relative_to(REPO).as_posix() for p in _code_files()}
    assert "layers/core/python/rmm_alerts/pipeline.py" in files
    assert "functions/poller/handler.py" in files
    assert "scripts/bootstrap" in files
    assert _OUTSIDE.search('"""see REFERENCE.md §3"""') and _OUTSIDE.search("# PRD FR-11")


def test_code_cites_no_document_outside_the_repo() -> None:
    problems = []
    for path in _code_files():
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if _OUTSIDE.search(line):
                problems.append(f"{path.relative_to(REPO)}:{n}: {line.strip()}")
    assert problems == []
