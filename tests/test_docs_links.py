"""Every relative link in the README, the changelog, docs/ and config/ leads somewhere: the file
exists and, for `file.md#anchor`, the heading does too."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))]
MARKDOWN_LINK = re.compile(r"\]\(([^)\s]+)\)")
DOCS_MENTION = re.compile(r"\b(docs/[\w.-]+\.md)\b")


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    return {_slug(line.lstrip("#")) for line in path.read_text().splitlines()
            if line.startswith("#")}


def _relative_links(path: Path) -> list[str]:
    links = MARKDOWN_LINK.findall(path.read_text())
    return [link for link in links if not re.match(r"^[a-z]+:", link) and link != "#"]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_resolve(document):
    for link in _relative_links(document):
        target, _, anchor = link.partition("#")
        path = (document.parent / target).resolve() if target else document
        assert path.exists(), f"{document.name}: {link} leads nowhere"
        assert ROOT in path.parents or path == ROOT, f"{document.name}: {link} leaves the repository"
        if anchor and path.suffix == ".md":
            assert anchor in _anchors(path), f"{document.name}: no heading for {link}"


def test_docs_named_in_config_and_code_exist():
    sources = [ROOT / "config" / "defaults.toml", *sorted((ROOT / "registry").rglob("*.py"))]
    for source in sources:
        for mention in DOCS_MENTION.findall(source.read_text()):
            assert (ROOT / mention).exists(), f"{source.relative_to(ROOT)} names {mention}"
