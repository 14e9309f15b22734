"""
Rules about the repository's own text that no other test would notice
breaking: every protocol citation names a page and a section that exist in
``docs/protocol/``, and every ``test-case-name`` header names test modules
that exist.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROTOCOL = ROOT / "docs" / "protocol"

# Where citations may appear; tests/js/node_modules holds other projects' files.
_SOURCES = ["primus_tx", "tests", "docs", "benchmarks", "twisted", "README.md", "CONTRIBUTING.md"]
_SUFFIXES = {".py", ".rst", ".md", ".js", ".html"}

_CITATION = re.compile(r"docs/protocol/([a-z-]+)\.rst")
# What follows a citation, once line breaks and comment markers are folded
# into single spaces: an optional `, "Section name"`.
_SECTION = re.compile(r',\s*"([^"]+)"')
_FOLD = re.compile(r"\s*\n\s*(?:#|//)?\s*")
_TEST_CASE_NAME = re.compile(r"^# -\*- test-case-name: (\S+) -\*-$", re.MULTILINE)


def _source_files() -> list[Path]:
    files: list[Path] = []
    for name in _SOURCES:
        path = ROOT / name
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            files.extend(
                p
                for p in sorted(path.rglob("*"))
                if p.suffix in _SUFFIXES
                and "node_modules" not in p.parts
                and "_build" not in p.parts
            )
    return files


def _titles(page: Path) -> set[str]:
    """
    The section titles of one reST page: lines underlined with ``-`` or ``=``.
    """
    lines = page.read_text(encoding="utf-8").splitlines()
    return {
        lines[i].strip()
        for i in range(len(lines) - 1)
        if lines[i].strip() and re.fullmatch(r"[-=]{3,}", lines[i + 1].strip())
    }


def _citations() -> list[tuple[str, str, str | None]]:
    found = []
    for path in _source_files():
        text = path.read_text(encoding="utf-8")
        for match in _CITATION.finditer(text):
            after = _FOLD.sub(" ", text[match.end() : match.end() + 200])
            section = _SECTION.match(after)
            where = f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, match.start()) + 1}"
            found.append((where, match.group(1), section.group(1) if section else None))
    return found


def test_there_are_citations_to_check() -> None:
    assert len(_citations()) > 10


@pytest.mark.parametrize("where, page, section", _citations())
def test_citation_names_an_existing_page_and_section(where: str, page: str, section: str) -> None:
    path = PROTOCOL / f"{page}.rst"
    assert path.is_file(), f"{where} cites docs/protocol/{page}.rst, which does not exist"
    if section is not None:
        assert section in _titles(path), f"{where} cites a section {section!r} not in {page}.rst"


def test_no_citation_points_outside_the_repository() -> None:
    outside = re.compile(r"spec/[A-Za-z0-9_-]+\.md|\bspec §|DESIGN\.md")
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in _source_files()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if outside.search(line) and path != Path(__file__).resolve()
    ]
    assert offenders == []


def test_every_protocol_page_is_in_the_toctree() -> None:
    index = (PROTOCOL / "index.rst").read_text(encoding="utf-8")
    pages = {p.stem for p in PROTOCOL.glob("*.rst")} - {"index"}
    listed = set(re.findall(r"^   ([a-z-]+)$", index, re.MULTILINE))
    assert pages <= listed


def test_test_case_names_exist() -> None:
    headers = {}
    for path in sorted((ROOT / "primus_tx").rglob("*.py")) + sorted(
        (ROOT / "twisted").rglob("*.py")
    ):
        match = _TEST_CASE_NAME.search(path.read_text(encoding="utf-8"))
        if match:
            headers[path.relative_to(ROOT)] = match.group(1).split(",")
    assert headers, "no test-case-name headers found"
    missing = [
        f"{source}: {name}"
        for source, names in headers.items()
        for name in names
        if not (ROOT / (name.replace(".", "/") + ".py")).is_file()
    ]
    assert missing == []


def test_the_wheel_ships_py_typed() -> None:
    import configparser

    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    shipped = [p.strip() for p in setup["options.package_data"]["primus_tx"].split(",")]
    assert "py.typed" in shipped
