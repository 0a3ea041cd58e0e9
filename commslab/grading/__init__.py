"""Grading: collect → identify → grade → publish, over typed values.

    collect, identify   lms.intake: files, folders and zips in, one Entry per file
    grade               pipeline.grade -> grade.grade_entry: one GradeResult per Entry
    save                gradebook.save: OUT/gradebook.json
    publish             pipeline.publish: the late policy and the TA's scores
                        (gradebook.finalise), then every output rendered from the typed rows
                        (docs/DESIGN.md)

Modules, roughly from the bottom layer up (no import cycle among them, none imports
commslab.cli or grading.cli: tests/test_layers.py checks both):

    protocol       the probe's event stream: names, kinds (Kind, Outcome), parse_event
    records        the typed grade: Status, Verdict, Failure, Question, Bonus, BonusRun
    csvsafe        every CSV cell written safe (no formula, bounded)
    unpack         folders and zips read with every file bounded before it is written
    notebook       the static read of a submission (cells, literals, written answers)
    checks         what the hidden tests use to judge results, with honest messages
    answers        the graded mission answers of each track's ledger
    harness        the hidden otter tests, run in two passes around one probe
    isolation      the OS sandbox (bubblewrap) or, asked for by name, a plain subprocess
    sandbox        the parent side of the probe: limits, launch, the event stream read back
    probe          the sandboxed child process that runs the student's cells
    container      the probe in a docker/podman container
    hosted         Gradescope/PrairieLearn: bubblewrap or an unprivileged user, locked down
    launchers      the one launcher factory (local, containers, hosted; from a spec)
    bonus_step     the MPI bonus: the student's ring on 2 and 3 ranks, extra credit
    written        written answers: what earns the automatic point, filler, near-copies
    grade          one notebook -> one GradeResult (the typed records)
    outputs        renderers: feedback, Gradescope and PrairieLearn results.json, summary
    outputs_gradebooks  renderers: grades.csv, each LMS gradebook, written answers, OUT's files
    lms            LMS layouts: names, identities, platforms, which notebook is graded
    roster         a class list (Canvas, Moodle, D2L, plain CSV) to map identities
    review         the TA's review page (review.html) and the similarity report
    classreport    the class report (class_report.html, class_report/*.csv)
    gradebook      gradebook.json, overrides, the late policy, finalise
    pipeline       the steps in order: collect, identify, grade, save, publish; grade_hosted
    grading_batch  what `commslab grade` stored about a batch, for the later commands
    prairielearn   PrairieLearn's external-grader entrypoint
    review_cli     the TA's commands after `commslab grade`
    cli            the grading commands (grade, grade-one, regrade)

Nothing is imported here: the probe is started from this package and must stay light.
"""
