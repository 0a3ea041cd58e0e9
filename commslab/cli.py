"""`commslab`: one command for every job of the course.

commslab init DIR                   create a course folder (source notebook, tests, config)
commslab release [--term TERM]      release/, solutions/ and autograder/ for a term
commslab solutions --student ID --out FILE
commslab grade PATH...              grade notebooks, folders or an LMS zip
commslab review import|set ...      TA scores and overrides into the grades
commslab regrade PATH... --student ID
commslab report                     the class report, review and similarity pages again
commslab demo                       the instructor's loop on a synthetic class
commslab figures                    the lab's figures on the embedded default scenario
commslab calibrate                  measure a real AllReduce and fit α, β

Every command but init, demo, figures and calibrate works on the course folder given by
--course-dir, else the working directory, and writes nowhere else (commslab/course.py).
"""

from __future__ import annotations

import click

from commslab.bundle import gradescope_command
from commslab.calibrate import calibrate
from commslab.course import init_command
from commslab.demo import demo, figures
from commslab.grading.cli import grade, grade_one
from commslab.grading.prairielearn import prairielearn_command
from commslab.grading.review_cli import regrade, report_command, review
from commslab.release import release_command, solutions_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="comms-lab")
def main() -> None:
    """comms-lab: the collective-communication lab, its release and its grading."""


main.add_command(init_command)
main.add_command(demo)
main.add_command(figures)
main.add_command(calibrate)
main.add_command(release_command)
main.add_command(solutions_command)
main.add_command(grade)
main.add_command(grade_one)
main.add_command(review)
main.add_command(regrade)
main.add_command(report_command)
main.add_command(gradescope_command)
main.add_command(prairielearn_command)

if __name__ == "__main__":
    main()
