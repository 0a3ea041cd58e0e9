OK_FORMAT = False
name = "ledger"
points = None

from commslab.notebook.checkfile import test_case  # noqa: E402


@test_case(name="LEDGER: every key of your track, in the form and rounding the grader accepts")
def test_ledger_format(LEDGER, TRACK, K_TRIES, scenario):
    """The rules the hidden tests apply (commslab.notebook.rules): the tries rule for k, the
    form of every number (a whole number where it is graded exactly), and for the numbers
    the notebook shows exactly as graded (rules.shown_values) the grader's own comparison."""
    from comms_core.scenarios import ledger_fields
    from commslab.notebook.rules import number_problem, shown_values, tries

    assert isinstance(LEDGER, dict), "LEDGER must be a dict: run the LEDGER cell."
    missing = [f.key for f in ledger_fields(TRACK) if LEDGER.get(f.key) is None]
    assert not missing, f"fill in these LEDGER keys: {', '.join(missing)}"
    shown = shown_values(scenario if getattr(scenario, "track", None) else None)
    for f in ledger_fields(TRACK):
        value = LEDGER[f.key]
        if f.kind == "choice":
            assert value in f.choices, (
                f'LEDGER["{f.key}"] must be one of {f.choices}; got {value!r}.'
            )
        elif f.kind == "k":
            allowed, problem = tries(K_TRIES)
            assert not problem, problem
            assert value in allowed, (
                f'LEDGER["{f.key}"] must be one of your K_TRIES (the k you tried); got {value!r}.'
            )
        elif f.kind == "bool":
            assert isinstance(value, bool), f'LEDGER["{f.key}"] must be True or False.'
        else:
            problem = number_problem(f, value, shown.get(f.key))
            assert not problem, problem + "."
