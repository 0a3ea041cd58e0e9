"""`commslab`: one command for every job of the course.

commslab demo                       the lab's figures on the embedded default scenario
commslab release --term TERM        release/, solutions/ and autograder/ for a term
commslab solutions --term TERM --student ID --out FILE
commslab grade PATH... --term TERM  grade notebooks, folders or an LMS zip
commslab calibrate                  measure a real AllReduce and fit α, β
"""

from __future__ import annotations

import click

from commslab.bundle import gradescope_command
from commslab.calibrate import calibrate
from commslab.demo import demo
from commslab.grading.cli import grade, grade_one
from commslab.grading.prairielearn import prairielearn_command
from commslab.release import release_command, solutions_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="comms-lab")
def main() -> None:
    """comms-lab: the collective-communication lab, its release and its grading."""


main.add_command(demo)
main.add_command(calibrate)
main.add_command(release_command)
main.add_command(solutions_command)
main.add_command(grade)
main.add_command(grade_one)
main.add_command(gradescope_command)
main.add_command(prairielearn_command)

if __name__ == "__main__":
    main()
