"""Command-line options that several `commslab` commands share, each defined once.

@term_option            --term (default: the course's commslab.toml)
@autograder_option      --autograder DIR (default: the course folder's autograder/)
@timeout_option(help)   --timeout SECONDS (default 120)
@jobs_option(default)   --jobs/-j N
@output_file_option(flag, help)   an optional file to write (--json, --plot)
"""

from __future__ import annotations

from pathlib import Path

import click

term_option = click.option(
    "--term", default=None, help="the term, e.g. 2026-fall (default: the course's commslab.toml)"
)
autograder_option = click.option(
    "--autograder",
    "autograder_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="tests/ and instructor.key (default: the course folder's autograder/)",
)


def timeout_option(help: str = "seconds per submission, all cells and calls included"):
    """--timeout SECONDS (at least 1, default 120)."""
    return click.option(
        "--timeout", type=click.FloatRange(min=1), default=120.0, show_default=True, help=help
    )


def jobs_option(default: int):
    """--jobs/-j N: submissions graded in parallel."""
    return click.option(
        "--jobs",
        "-j",
        type=click.IntRange(min=1),
        default=default,
        show_default=True,
        help="submissions graded in parallel",
    )


def output_file_option(flag: str, dest: str, help: str):
    """An optional file the command writes (`--json report.json`, `--plot fit.png`)."""
    return click.option(flag, dest, type=click.Path(dir_okay=False, path_type=Path), help=help)
