"""Every relative link in README.md and docs/ resolves to a file a fresh clone has (a tracked file)."""

import re
import subprocess
from pathlib import Path
from urllib.parse import unquote

from bench.common.paths import REPO_ROOT

# [text](target) and ![alt](target); the target ends at whitespace or the closing parenthesis.
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def tracked() -> set[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout
    files = {REPO_ROOT / name for name in listed.split("\0") if name}
    return files | {parent for f in files for parent in f.parents}


def pages() -> list[Path]:
    return [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").rglob("*.md"))]


def relative_links(page: Path) -> list[str]:
    found = []
    for target in _LINK.findall(page.read_text()):
        if target.startswith(("http://", "https://", "mailto:", "#")):
            continue
        found.append(unquote(target.split("#", 1)[0]))
    return found


def test_every_relative_link_resolves_to_a_tracked_file() -> None:
    known = tracked()
    dead = [
        f"{page.relative_to(REPO_ROOT)} -> {target}"
        for page in pages()
        if page in known
        for target in relative_links(page)
        if (page.parent / target).resolve() not in known
    ]
    assert dead == [], "\n".join(dead)


def test_the_check_reads_links_the_readme_has() -> None:
    """Not vacuous: the README links into docs/ (methodology, evidence or results)."""
    links = relative_links(REPO_ROOT / "README.md")
    assert any(link.startswith("docs/") for link in links), links
