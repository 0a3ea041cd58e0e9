"""Grading: a static read, hidden otter tests, a sandboxed probe, LMS files in and out.

    from commslab.grading import grade_notebook, GradeResult

Modules: notebook (static read), probe (the sandboxed child process) and sandbox (its parent
side), harness (otter tests in two passes), checks (what the tests use), grade (one notebook),
lms (LMS names, zips), report (batches, CSVs, feedback), cli (the commands). Names are loaded
lazily: the probe is started from this package and must stay light.
"""

from __future__ import annotations

__all__ = ["GradeResult", "grade_batch", "grade_notebook", "write_outputs"]


def __getattr__(name: str):
    if name in ("GradeResult", "grade_notebook"):
        from commslab.grading import grade

        return getattr(grade, name)
    if name in ("grade_batch", "write_outputs"):
        from commslab.grading import report

        return getattr(report, name)
    raise AttributeError(name)
