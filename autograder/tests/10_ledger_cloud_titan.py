"""Hidden tests: the LEDGER of the cloud_titan track, vs mission_answers(LMS scenario).

LEDGER_POINTS points, shared equally by the track's graded fields (each field's tolerance is
its LedgerField.rel_tol); decision fields are only checked for being a valid choice (0 points).
"""

from commslab.grading.checks import LEDGER_POINTS, ledger_test_cases

OK_FORMAT = False
name = "ledger"
track = "cloud_titan"
points = LEDGER_POINTS

globals().update(ledger_test_cases(track))
