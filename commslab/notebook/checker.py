"""`grader` in the student's notebook: the public checks, found in this package, not in the
notebook file, so the notebook runs under any file name and from any folder.

The checks (public_tests/*.py, otter's exception-based test format) never see hidden values;
commslab.notebook.checkfile runs them without otter-grader, which only the grader installs.
"""

from __future__ import annotations

from pathlib import Path

from commslab.notebook.checkfile import CheckResult, run_check

PUBLIC_TESTS = Path(__file__).resolve().parent / "public_tests"


def _student_namespace() -> dict:
    """The notebook's variables (the running IPython kernel's user namespace)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return {}
    shell = get_ipython()
    return shell.user_ns if shell is not None else {}


class Checker:
    """grader.check("part1"), grader.check_all(): the public checks on your notebook."""

    def __init__(self, namespace: dict | None = None) -> None:
        self._namespace = namespace

    @property
    def checks(self) -> list[str]:
        return sorted(p.stem for p in PUBLIC_TESTS.glob("*.py"))

    def _env(self) -> dict:
        return self._namespace if self._namespace is not None else _student_namespace()

    def check(self, name: str) -> CheckResult:
        if name not in self.checks:
            raise ValueError(f"no public check called {name!r}; the checks: {self.checks}")
        return run_check(PUBLIC_TESTS / f"{name}.py", self._env())

    def check_all(self) -> AllChecks:
        return AllChecks([self.check(name) for name in self.checks])


class AllChecks(list):
    """The results of every public check, shown one after the other."""

    def _repr_html_(self) -> str:
        return "".join(r._repr_html_() for r in self)

    def __repr__(self) -> str:
        return "\n".join(repr(r) for r in self)


def checker() -> Checker:
    return Checker()


__all__ = ["PUBLIC_TESTS", "AllChecks", "Checker", "checker"]
