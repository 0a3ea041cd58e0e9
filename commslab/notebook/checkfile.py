"""The public checks' file format, run in the student's kernel without otter-grader.

The public checks (public_tests/*.py) are otter-grader's exception-based test files
(https://otter-grader.readthedocs.io/en/latest/test_files/python_format.html): a module with a
`name` and functions decorated with `@test_case(name=...)`, each of which receives the notebook's
variables named by its parameters and fails by raising. Running one needs a few lines, so the
student's install does not carry otter-grader (which brings PDF export, browser automation,
pandas and a documentation builder); the grader keeps otter for the hidden tests
(commslab/grading/harness.py).

What follows otter-grader 7.0.0 (BSD-3-Clause), so a check reads as it did under otter:
- `test_case`, its `call_func` (a parameter gets the namespace's value of that name, None if
  absent; `env` gets the namespace) and the default case name `"{name} - {i}"`:
  otter/test_files/exception_test.py;
- the failure message "❌ Test case failed\\nError at line L in test NAME:\\n  <line>\\nType: msg"
  (ExceptionTestFile.run, _generate_error_message) and the wording of `summary` and
  `_repr_html_` ("NAME results: All test cases passed!", "NAME passed!"):
  otter/test_files/abstract_test.py.
Left out, as the public checks use none of it: points, hidden cases, success and failure
messages, all-or-nothing grading, otter's event log.
"""

from __future__ import annotations

import html
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from textwrap import indent
from typing import Any

PASSED = "✅ Test case passed"
FAILED = "❌ Test case failed"


class test_case:  # otter's lower-case name: the check files read as otter's format
    """Decorator for one case of a check file: `@test_case(name="...")`."""

    def __init__(self, name: str | None = None, **_otter_options: Any) -> None:
        self.name = name
        self.test_func: Callable[..., None] = lambda: None

    def __call__(self, test_func: Callable[..., None]) -> test_case:
        self.test_func = test_func
        return self

    def call_func(self, env: dict[str, Any]) -> None:
        params = inspect.signature(self.test_func).parameters
        self.test_func(**{p: env if p == "env" else env.get(p) for p in params})


@dataclass(frozen=True)
class CaseResult:
    name: str
    passed: bool
    message: str


@dataclass
class CheckResult:
    """One check file's results, shown as otter shows them (text and HTML)."""

    name: str
    results: list[CaseResult]

    @property
    def passed_all(self) -> bool:
        return all(r.passed for r in self.results)

    def summary(self) -> str:
        if self.passed_all:
            return f"{self.name} results: All test cases passed!"
        parts = [f"{r.name} result:\n{indent(r.message.strip(), '    ')}" for r in self.results]
        return f"{self.name} results:\n" + indent("\n\n".join(parts), "    ")

    def __repr__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        name = f"<pre style='display: inline;'>{html.escape(self.name)}</pre>"
        if self.passed_all:
            return f"<p><strong>{name}</strong> passed! 🎉</p>"
        out = f"<p><strong style='color: red;'>{name} results:</strong></p>"
        for r in self.results:
            case = f"<pre style='display: inline;'>{html.escape(r.name)}</pre>"
            out += f"<p><strong>{case} result:</strong></p>"
            out += f"<pre>{html.escape(indent(r.message, '    '))}</pre>"
        return out


def _error_message(err: Exception, path: str, lines: list[str], check: str) -> str:
    """Where in the check file the case failed: the test function's line (the traceback's first
    frame in that file, as otter's `_generate_error_message` takes)."""
    line = 0
    tb = err.__traceback__
    while tb is not None and not line:
        if tb.tb_frame.f_code.co_filename == path:
            line = tb.tb_lineno
        tb = tb.tb_next
    shown = indent(lines[line - 1], "  ") if 0 < line <= len(lines) else ""
    return (
        f"Error at line {line} in test {check}:\n{shown}\n"
        f"{type(err).__name__}: {str(err).strip(chr(39))}"
    )


def run_check(path: Path, env: dict[str, Any]) -> CheckResult:
    """Run the check file at PATH against the notebook namespace ENV."""
    source = Path(path).read_text(encoding="utf-8")
    filename = str(path)
    module: dict[str, Any] = {}
    exec(compile(source, filename, "exec"), module)
    if "name" not in module:
        raise ValueError(f"check file {path} does not define 'name'")
    check = module["name"]
    cases = [v for v in module.values() if isinstance(v, test_case)]
    results = []
    for i, case in enumerate(cases, start=1):
        name = case.name or f"{check} - {i}"
        try:
            case.call_func(env)
        except Exception as err:  # a failed case is a result, never a crash of the check
            message = f"{FAILED}\n{_error_message(err, filename, source.splitlines(), check)}"
            results.append(CaseResult(name, False, message))
        else:
            results.append(CaseResult(name, True, PASSED))
    return CheckResult(check, results)


__all__ = ["CheckResult", "run_check", "test_case"]
