OK_FORMAT = False
name = "ledger"
points = None

from otter.test_files import test_case  # noqa: E402


@test_case(name="LEDGER: every key of your track is filled in, with the right type")
def test_ledger_format(LEDGER, TRACK, K_TRIES):
    from comms_core.scenarios import ledger_fields

    assert isinstance(LEDGER, dict), "LEDGER must be a dict: run the LEDGER cell."
    missing = [f.key for f in ledger_fields(TRACK) if LEDGER.get(f.key) is None]
    assert not missing, f"fill in these LEDGER keys: {', '.join(missing)}"
    for f in ledger_fields(TRACK):
        value = LEDGER[f.key]
        if f.kind == "choice":
            assert value in f.choices, (
                f'LEDGER["{f.key}"] must be one of {f.choices}; got {value!r}.'
            )
        elif f.kind == "k":
            assert value in list(K_TRIES)[:10], (
                f'LEDGER["{f.key}"] must be one of your K_TRIES (the k you tried); got {value!r}.'
            )
        elif f.kind == "bool":
            assert isinstance(value, bool), f'LEDGER["{f.key}"] must be True or False.'
        else:
            assert isinstance(value, int | float) and not isinstance(value, bool), (
                f'LEDGER["{f.key}"] must be a number ({f.unit or "no unit"}).'
            )
