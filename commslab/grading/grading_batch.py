"""What `commslab grade` stored about a batch, for the commands that come after it.

`commslab grade` writes into gradebook.json's meta the platform the batch was read as, the
roster (path and id column), the engine (and whether the sandbox was waived), the term and
the autograder folder. `regrade` reads new files by the same platform's rules, maps them by
the same roster and grades them with the same engine and term; `review import` and `report`
publish with the same roster and term (commslab.grading.pipeline.publish).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from commslab.grading import lms
from commslab.grading.launchers import make_launcher
from commslab.grading.roster import Roster, read_roster


@dataclass
class StoredBatch:
    """The batch's settings as `commslab grade` stored them."""

    platform: lms.Platform | None
    roster: Roster | None
    engine: str
    unsafe_no_sandbox: bool
    course_dir: Path | None

    def launcher(self):
        """Where the probes run, as they ran for the batch."""
        return make_launcher(
            self.engine, unsafe_no_sandbox=self.unsafe_no_sandbox, course=self.course_dir
        )


def stored_batch(meta: dict) -> StoredBatch:
    """The batch's settings from gradebook.json's meta; ValueError if its roster is gone."""
    roster = None
    if meta.get("roster"):
        path, id_column = meta["roster"]
        if not Path(path).exists():
            raise ValueError(
                f"the batch was graded with the roster {path}, which is gone: put it back"
            )
        roster = read_roster(Path(path), id_column=id_column)
    platform = meta.get("platform")
    course = meta.get("course_dir")
    return StoredBatch(
        platform=lms.Platform(platform) if platform else None,
        roster=roster,
        engine=str(meta.get("engine") or "local"),
        unsafe_no_sandbox=bool(meta.get("unsafe_no_sandbox")),
        course_dir=Path(course) if course else None,
    )
