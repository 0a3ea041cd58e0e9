"""The course folder: where every command reads its inputs and writes its outputs.

A course folder holds what an instructor edits and what the commands generate:

    commslab.toml                           the course's settings (the default term)
    source/collective_comms/*.ipynb         the instructor notebook (nbgrader markers)
    autograder/tests/*.py                   the hidden otter tests
    autograder/Dockerfile, containers.conf  the grading image
    release/, solutions/, autograder/dist/  written by `commslab release`

`commslab init DIR` creates one from the templates shipped in the package (as
`nbgrader quickstart` does). Every command works on the course folder given by `--course-dir`,
else the working directory, and writes nowhere else. The repository itself is one such course
folder: the package's templates are links to its files (commslab/templates/course/).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import click

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

CONFIG = "commslab.toml"
ASSIGNMENT = "collective_comms"
NOTEBOOK = f"{ASSIGNMENT}.ipynb"
_JUNK = {"__pycache__", ".ipynb_checkpoints"}
_RENAMED = {"gitignore": ".gitignore"}  # package data holds no dotfiles


@dataclass(frozen=True)
class Course:
    """A course folder and the paths every command uses inside it."""

    root: Path
    term: str | None = None  # commslab.toml's default term

    @property
    def source_notebook(self) -> Path:
        return self.root / "source" / ASSIGNMENT / NOTEBOOK

    @property
    def autograder(self) -> Path:
        return self.root / "autograder"

    @property
    def release_dir(self) -> Path:
        return self.root / "release" / ASSIGNMENT

    @property
    def solutions_dir(self) -> Path:
        return self.root / "solutions" / ASSIGNMENT

    @classmethod
    def at(cls, path: Path | str = ".") -> Course:
        """The course folder at PATH, or a ClickException that says how to make one."""
        root = Path(path).resolve()
        config = root / CONFIG
        if not config.is_file():
            raise click.ClickException(
                f"{root} is not a course folder (no {CONFIG}). Create one with "
                "`commslab init DIR`, or run from inside one, or pass --course-dir DIR."
            )
        try:
            settings = tomllib.loads(config.read_text(encoding="utf-8")).get("course", {})
        except tomllib.TOMLDecodeError as err:
            raise click.ClickException(f"{config}: {err}") from None
        term = settings.get("term")
        return cls(root=root, term=str(term) if term else None)

    def released_term(self) -> str | None:
        """The term `commslab release` last wrote (release/TERM): what the students' notebooks
        were made for, stored with the release as the Gradescope bundle stores its TERM."""
        try:
            text = (self.root / "release" / "TERM").read_text(encoding="utf-8").strip()
        except OSError:
            return None
        return text or None

    def term_or(self, term: str | None) -> str:
        """The term given on the command line, else commslab.toml's."""
        if term:
            return term
        if self.term:
            return self.term
        raise click.UsageError(f"give --term (e.g. 2026-fall) or set term in {CONFIG}")


def course_dir_option(function):
    """`--course-dir DIR` (default: the working directory), passed on as `course: Course`."""
    return click.option(
        "--course-dir",
        "course",
        default=".",
        show_default=True,
        type=click.Path(file_okay=False, path_type=Path),
        callback=lambda ctx, param, value: Course.at(value),
        help="The course folder (made by `commslab init`).",
    )(function)


def template_root():
    """The course-folder template shipped in the package."""
    return resources.files("commslab") / "templates" / "course"


def _copy_tree(src, dest: Path, written: list[Path]) -> None:
    for item in sorted(src.iterdir(), key=lambda p: p.name):
        if item.name in _JUNK or item.name.endswith(".pyc"):
            continue
        target = dest / _RENAMED.get(item.name, item.name)
        if item.is_dir():
            _copy_tree(item, target, written)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(item.read_bytes())
            written.append(target)


def init_course(dest: Path, *, term: str | None = None) -> list[Path]:
    """Create a course folder at DEST from the package's templates; return the files written."""
    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()):
        raise click.ClickException(f"{dest} exists and is not empty: pick a new folder")
    written: list[Path] = []
    _copy_tree(template_root(), dest, written)
    if term:
        config = dest / CONFIG
        text = config.read_text(encoding="utf-8")
        config.write_text(_set_term(text, term), encoding="utf-8")
    return written


def _set_term(config_text: str, term: str) -> str:
    lines = [
        f'term = "{term}"' if line.split("=")[0].strip() == "term" else line
        for line in config_text.splitlines()
    ]
    return "\n".join(lines) + "\n"


def check_term(term: str) -> str:
    """A term as the commands take it ("2026-fall"): lower case, letters, digits, '.-_'."""
    term = term.strip().lower()
    if not re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,39}", term):
        raise click.BadParameter(
            f"{term!r}: use letters, digits, '-', e.g. 2026-fall", param_hint="--term"
        )
    return term


@click.command("init")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--term", default=None, help="The default term, e.g. 2026-fall.")
def init_command(directory: Path, term: str | None) -> None:
    """Create a course folder in DIRECTORY: source notebook, tests, grading image, config."""
    if term:
        term = check_term(term)
    written = init_course(directory, term=term)
    click.echo(f"created the course folder {directory} ({len(written)} files). Next:")
    click.echo(f"  cd {directory} && commslab release")
