"""Hidden tests: the three Locks (predictions). 1 point each for making one; whether it was
right is feedback only (docs/LAB_SPEC.md "Predictions, reflections and the ledger").

submission.predictions holds the first prediction each Lock recorded in the saved notebook's
outputs (commslab.notebook.locks.recorded_firsts, read by commslab.grading.notebook); only a
Lock that recorded nothing falls back to the variable's value."""

from otter.test_files import test_case

from commslab.grading.checks import expect
from commslab.notebook.locks import LOCKS

OK_FORMAT = False
name = "predictions"
points = 3


def _recorded(submission) -> dict:
    recorded = getattr(submission, "recorded", None)
    return recorded if isinstance(recorded, dict) else {}


def check(submission, feedback, part):
    lock = LOCKS[part]
    made = lock.normalise(submission.predictions.get(lock.name))
    expect(made is not None, f"{lock.name} is not one of {', '.join(map(repr, lock.choices))}")
    first = " (your first, as the Lock recorded it)" if lock.name in _recorded(submission) else ""
    if made == lock.answer:
        feedback.note(f"{lock.name} = {made!r}{first}: right.")
    else:
        feedback.note(
            f"{lock.name} = {made!r}{first}: the workbench says otherwise ({lock.why}) "
            "No points lost: predictions are graded for being made."
        )


@test_case(name="Part 1 prediction made", points=1, hidden=True)
def part1(submission, feedback):
    check(submission, feedback, 1)


@test_case(name="Part 2 prediction made", points=1, hidden=True)
def part2(submission, feedback):
    check(submission, feedback, 2)


@test_case(name="Part 3 prediction made", points=1, hidden=True)
def part3(submission, feedback):
    check(submission, feedback, 3)
