"""Every citation points at a file in the repository or at a public source.

Forbidden: paths of a build machine (/work/..., /home/..., /Users/...), the team's shared
folder, and bare names of the lab spec or research notes that are not files here. A cited
`docs/...md` must exist.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEXT = (".py", ".md", ".sh", ".toml", ".txt", ".cfg", ".conf", "Dockerfile", ".ipynb")
GENERATED = ("release/", "solutions/")
MACHINE_PATH = re.compile(r"(?<![\w.])/(?:work|home|Users)/\w")
SHARED = re.compile(r"\.\./shared|shared/(?:notes|seeds|LAB_SPEC)")
BARE_SPEC = re.compile(r"(?<![\w/.])(?:LAB_SPEC|notes/[\w-]+\.md)")
CITED_DOC = re.compile(r"\bdocs/(?:notes/[\w-]+|[A-Z_]+)\.md")  # ours; not other repos' docs/


def _files() -> list[Path]:
    names = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [
        ROOT / n
        for n in names
        if n.endswith(TEXT) and not n.startswith(GENERATED) and (ROOT / n).is_file()
    ]


def _problems(path: Path, text: str) -> list[str]:
    rel = path.relative_to(ROOT).as_posix()
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        where = f"{rel}:{number}: {line.strip()[:90]}"
        if MACHINE_PATH.search(line) or SHARED.search(line):
            found.append(where)
        if not rel.startswith("docs/") and BARE_SPEC.search(line):
            found.append(where)
        for cited in CITED_DOC.findall(line):
            if not (ROOT / cited).is_file():
                found.append(f"{where} ({cited} does not exist)")
    return found


def test_citations_point_into_the_repository():
    problems = []
    for path in _files():
        if path.name == "test_citations.py":
            continue
        problems += _problems(path, path.read_text(encoding="utf-8", errors="replace"))
    assert not problems, "\n".join(problems[:40])


def test_the_check_finds_a_machine_path_and_a_missing_doc():
    fake = ROOT / "comms_core" / "x.py"
    assert _problems(fake, "see /work/shared/notes/containers.md")
    assert _problems(fake, "(LAB_SPEC Part 2)")
    assert _problems(fake, "docs/NOT_THERE.md")
    assert _problems(fake, "docs/notes/not_there.md")
    assert not _problems(fake, "docs/LAB_SPEC.md Part 2; /tmp/x; https://example.org/a/b")
