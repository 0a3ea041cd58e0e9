"""Hidden tests: the written answers, for presence and substance (at least 25 words of your own,
not the question, and for Part 1 the latency term): 1 point for each part's reflection, 2 for
the strategy (which also answers Part 3's ML Lead); a TA reads them too (written_answers.md).
The question, the placeholder, lorem ipsum and repeated text earn nothing, also when written
in look-alike letters (commslab.grading.written compares the folded text)."""

from otter.test_files import test_case

from commslab.grading.checks import expect, written_problem
from commslab.grading.notebook import WRITTEN_POINTS

OK_FORMAT = False
name = "written"
points = sum(WRITTEN_POINTS.values())


def check(submission, grade_id):
    text = submission.written.get(grade_id)
    problem = written_problem(grade_id, text, submission.templates.get(grade_id, []))
    expect(not problem, problem)


@test_case(name="reflect_part1", points=WRITTEN_POINTS["reflect_part1"], hidden=True)
def reflect_part1(submission):
    check(submission, "reflect_part1")


@test_case(name="reflect_part2", points=WRITTEN_POINTS["reflect_part2"], hidden=True)
def reflect_part2(submission):
    check(submission, "reflect_part2")


@test_case(name="strategy", points=WRITTEN_POINTS["strategy"], hidden=True)
def strategy(submission):
    check(submission, "strategy")
