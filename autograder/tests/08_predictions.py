"""Hidden tests: the three Locks (predictions). 1 point each for making one; whether it was
right is feedback only (LAB_SPEC "Predictions, reflections and the ledger")."""

from otter.test_files import test_case

from commslab.grading.checks import expect

OK_FORMAT = False
name = "predictions"
points = 3

# name: (choices, the answer the workbench then shows, why)
LOCKS = {
    "PREDICTION_PART1": (
        ("more", "less"),
        "less",
        "for a fixed N the tree gets LESS attractive as M grows: its "
        "bandwidth term is 2⌈log2 N⌉·M/β against the ring's 2(N−1)/N·M/β",
    ),
    "PREDICTION_PART2": (
        ("yes", "no"),
        "yes",
        "yes: the inter-node bytes per GPU shrink by about G",
    ),
    "PREDICTION_PART3": (
        ("worse", "same", "better"),
        "worse",
        "one step of 1-bit compression is worse; error feedback recovers "
        "the accuracy over the following steps",
    ),
}


def check(submission, feedback, lock):
    choices, answer, why = LOCKS[lock]
    made = submission.predictions.get(lock)
    made = made.strip().lower() if isinstance(made, str) else made
    expect(made in choices, f"{lock} is not one of {', '.join(map(repr, choices))}")
    if made == answer:
        feedback.note(f"{lock} = {made!r}: right.")
    else:
        feedback.note(
            f"{lock} = {made!r}: the workbench says otherwise ({why}). "
            "No points lost: predictions are graded for being made."
        )


@test_case(name="Part 1 prediction made", points=1, hidden=True)
def part1(submission, feedback):
    check(submission, feedback, "PREDICTION_PART1")


@test_case(name="Part 2 prediction made", points=1, hidden=True)
def part2(submission, feedback):
    check(submission, feedback, "PREDICTION_PART2")


@test_case(name="Part 3 prediction made", points=1, hidden=True)
def part3(submission, feedback):
    check(submission, feedback, "PREDICTION_PART3")
