"""Hidden tests: the written answers. 1 point each for presence and substance (at least 25
words of your own, not the question, and for Part 1 the latency term); a TA reads them too
(written_answers.md)."""

from otter.test_files import test_case

from commslab.grading.checks import expect, written_problem

OK_FORMAT = False
name = "written"
points = 4


def check(submission, grade_id):
    text = submission.written.get(grade_id)
    problem = written_problem(grade_id, text, submission.templates.get(grade_id, []))
    expect(not problem, problem)


@test_case(name="reflect_part1", points=1, hidden=True)
def reflect_part1(submission):
    check(submission, "reflect_part1")


@test_case(name="reflect_part2", points=1, hidden=True)
def reflect_part2(submission):
    check(submission, "reflect_part2")


@test_case(name="reflect_part3", points=1, hidden=True)
def reflect_part3(submission):
    check(submission, "reflect_part3")


@test_case(name="strategy", points=1, hidden=True)
def strategy(submission):
    check(submission, "strategy")
