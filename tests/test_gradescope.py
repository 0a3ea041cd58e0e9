"""The Gradescope bundle, run the way Gradescope runs it, on Python 3.10.

Gradescope's "Autograder Specifications" (gradescope-autograders.readthedocs.io/en/latest/specs,
source: github.com/gradescope/autograder_samples docs/specs.md): the zip is unpacked to
/autograder/source, `setup.sh` runs once as root, `run_autograder` is copied to
/autograder/run_autograder and runs per submission with the working directory /autograder, the
upload in /autograder/submission and /autograder/submission_metadata.json (docs
"Submission Metadata": `users[]` with `email`, `id`, `name`); it writes
/autograder/results/results.json. The default base image is Ubuntu 22.04, whose python3 is
3.10 (docs "Base Images"); here pyenv's 3.10.13 stands in for it. setup.sh installs MPI from
the pinned wheels (mpi4py, mpich), so the MPI bonus is graded on real ranks there too.

Bubblewrap puts a temporary folder at /autograder without touching the host: every top-level
folder of the host is bound to itself, /autograder is created in bubblewrap's own root.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import jsonschema
import nbformat
import pytest
import test_bonus_grading as bonus_cases  # the batch's bonus submissions, on Gradescope here
from adversarial import notebooks as nbs
from pythons import python310

from commslab.bundle import build_bundle, gradescope_identity
from commslab.grading.grade import GradeResult, grade_notebook
from commslab.grading.lms import LmsKey
from commslab.grading.outputs import BONUS_TEST, gradescope_results
from commslab.grading.records import Bonus, BonusRun, Failure, Status, Verdict
from commslab.grading.roster import Roster, Student

ROOT = Path(__file__).resolve().parents[1]
TERM = "2026-fall"
KEY = "gradescope-simulation-key"
VISIBILITY = {"enum": ["hidden", "after_due_date", "after_published", "visible"]}
# results.json, written from the specification's "Output format" (every field is optional,
# but the score must be at the top level or on each test).
RESULTS_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "score": {"type": "number"},
        "execution_time": {"type": "number"},
        "output": {"type": "string"},
        "output_format": {"enum": ["text", "html", "simple_format", "md", "ansi"]},
        "visibility": VISIBILITY,
        "stdout_visibility": VISIBILITY,
        "extra_data": {"type": "object"},
        "tests": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "score": {"type": "number"},
                    "max_score": {"type": "number"},
                    "status": {"enum": ["passed", "failed"]},
                    "name": {"type": "string"},
                    "number": {"type": "string"},
                    "output": {"type": "string"},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "visibility": VISIBILITY,
                    "extra_data": {"type": "object"},
                },
            },
        },
        "leaderboard": {"type": "array"},
    },
    "anyOf": [
        {"required": ["score"]},
        {"properties": {"tests": {"items": {"required": ["score"]}}}, "required": ["tests"]},
    ],
}
METADATA = {  # docs "Submission Metadata", with the documented fields only
    "id": 123456,
    "created_at": "2026-12-01T09:00:00.000000-08:00",
    "assignment": {
        "due_date": "2026-12-05T23:00:00.000000-08:00",
        "group_size": None,
        "group_submission": False,
        "id": 25828,
        "course_id": 1234,
        "late_due_date": None,
        "release_date": "2026-11-20T00:00:00.000000-08:00",
        "title": "Collective Communication Lab",
        "total_points": "35.0",
    },
    "submission_method": "upload",
    "users": [{"email": "jane@uni.edu", "id": 987654, "name": "Jane Doe"}],
    "previous_submissions": [],
}


# Docker's default capabilities (docs.docker.com, "Runtime privilege and Linux capabilities"):
# the container a hosted grader runs is root with these, and without CAP_SYS_ADMIN.
DOCKER_CAPABILITIES = (
    "AUDIT_WRITE CHOWN DAC_OVERRIDE FOWNER FSETID KILL MKNOD NET_BIND_SERVICE NET_RAW "
    "SETFCAP SETGID SETPCAP SETUID SYS_CHROOT"
).split()


def _bwrap(
    autograder: Path, command: list[str], *, network: bool, env: dict, docker_caps: bool = False
) -> str:
    """Run `command` with `autograder` at /autograder, the rest of the host as it is."""
    args = ["bwrap", "--die-with-parent", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    for entry in sorted(os.listdir("/")):
        path = Path("/") / entry
        if entry in ("proc", "dev", "sys", "tmp", "root", "autograder"):
            continue
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--bind", str(path), str(path)]
    # only pyenv's 3.10 from /root (0700 on the host), in folders anyone may enter, as an
    # image's /usr/bin/python3 is
    args += ["--perms", "0755", "--tmpfs", "/root"]
    prefix = python310()
    for parent in reversed(prefix.parents):
        if str(parent).startswith("/root/"):
            args += ["--perms", "0755", "--dir", str(parent)]
    args += ["--ro-bind", str(prefix), str(prefix)]
    args += ["--bind", str(autograder), "/autograder", "--chdir", "/autograder"]
    if not network:
        args.append("--unshare-net")
    if docker_caps:
        args += ["--cap-drop", "ALL"]
        for capability in DOCKER_CAPABILITIES:
            args += ["--cap-add", f"CAP_{capability}"]
    for name, value in env.items():
        args += ["--setenv", name, value]
    run = subprocess.run(
        [*args, *command], capture_output=True, text=True, timeout=900, env=os.environ.copy()
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return run.stdout


@pytest.fixture(scope="module")
def gradescope(tmp_path_factory) -> Path:
    """The bundle unpacked as Gradescope unpacks it, setup.sh run once on Python 3.10."""
    if shutil.which("bwrap") is None:
        subprocess.run(["apt-get", "install", "-y", "-qq", "bubblewrap"], check=True)
    assert python310().exists(), f"{python310()}: Python 3.10 (pyenv) is what Ubuntu 22.04 has"
    previous = os.environ.get("COMMSLAB_GRADING_KEY")
    os.environ["COMMSLAB_GRADING_KEY"] = KEY
    try:
        bundle = build_bundle(TERM, ROOT)
    finally:
        if previous is None:
            del os.environ["COMMSLAB_GRADING_KEY"]
        else:
            os.environ["COMMSLAB_GRADING_KEY"] = previous
    autograder = tmp_path_factory.mktemp("gs") / "autograder"
    with zipfile.ZipFile(bundle) as z:
        z.extractall(autograder / "source")
    for name in ("setup.sh", "run_autograder"):
        (autograder / "source" / name).chmod(0o755)
    shutil.copy(autograder / "source" / "run_autograder", autograder / "run_autograder")
    # the instructor's roster: the Gradescope email is student 1234567 of the course
    (autograder / "source" / "autograder" / "roster.csv").write_text(
        "student_id,email,name\n1234567,jane@uni.edu,Jane Doe\n"
    )
    env = {
        "COMMSLAB_PYTHON": str(python310() / "bin" / "python3.10"),
        "HOME": "/tmp",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    _bwrap(autograder, ["bash", "/autograder/source/setup.sh"], network=True, env=env)
    version = _bwrap(
        autograder, ["/autograder/venv/bin/python", "--version"], network=False, env={}
    )
    assert version.startswith("Python 3.10"), version
    return autograder


def _submit(autograder: Path, notebook, *, runs: int = 2, **bwrap) -> list[dict]:
    """Gradescope's harness: the upload (with Jupyter's checkpoint folder) and the metadata,
    then run_autograder `runs` times; the results.json of each run."""
    submission = autograder / "submission"
    shutil.rmtree(submission, ignore_errors=True)
    nbs.write(notebook, submission / "collective_comms.ipynb")
    # Jupyter's autosave copy of an older, empty state: never the graded file
    nbs.write(
        nbs.untouched_notebook(),
        submission / ".ipynb_checkpoints" / "collective_comms-checkpoint.ipynb",
    )
    (autograder / "submission_metadata.json").write_text(json.dumps(METADATA))
    shutil.rmtree(autograder / "results", ignore_errors=True)
    (autograder / "results").mkdir()
    results = []
    for _ in range(runs):
        _bwrap(
            autograder, ["/autograder/run_autograder"], network=False, env={"HOME": "/tmp"}, **bwrap
        )
        results.append(json.loads((autograder / "results" / "results.json").read_text()))
    return results


@pytest.mark.slow
def test_the_bundle_grades_on_a_simulated_gradescope_with_python_310(gradescope):
    first, second = _submit(gradescope, nbs.solved_notebook("1234567"))
    jsonschema.validate(first, RESULTS_SCHEMA)
    assert first == second  # a regrade gives the same results
    assert first["score"] == 35
    check = first["tests"][0]
    assert check["visibility"] == "visible" and "score" not in check
    assert "collective_comms.ipynb: graded" in check["output"]
    assert "checkpoint" not in check["output"]
    assert "sandbox: bubblewrap" in check["output"]
    assert {t["visibility"] for t in first["tests"][1:]} == {"after_published"}
    assert sum(t["max_score"] for t in first["tests"][1:]) == 35
    assert BONUS_TEST not in {t["name"] for t in first["tests"]}  # no bonus tried, none shown

    # the same key locally: the same hidden inputs, the same points
    local = grade_notebook(
        gradescope / "submission" / "collective_comms.ipynb",
        term=TERM,
        student_id="1234567",
        autograder_dir=ROOT / "autograder",
        key=KEY.encode(),
    )
    assert {t["name"]: t["score"] for t in first["tests"][1:]} == local.points


@pytest.mark.slow
def test_a_container_without_namespaces_still_runs_student_code_unprivileged(gradescope):
    """Docker's default capabilities, no CAP_SYS_ADMIN: bubblewrap cannot run, the probe runs
    as uid 65534; a cell that reads the key or writes results.json gets nowhere."""
    notebook = nbs.solved_notebook("1234567")
    notebook.cells.append(
        nbformat.v4.new_code_cell(
            "open('/autograder/results/results.json', 'w').write('{\"score\": 1000}')\n"
        )
    )
    notebook.cells.append(
        nbformat.v4.new_code_cell(
            "print(open('/autograder/source/autograder/instructor.key').read())\n"
        )
    )
    (result,) = _submit(
        gradescope,
        notebook,
        runs=1,
        docker_caps=True,
    )
    jsonschema.validate(result, RESULTS_SCHEMA)
    check = result["tests"][0]["output"]
    assert "sandbox: unprivileged-user" in check, check
    for what in ("the instructor key", "the hidden tests", "the reference", "writing the results"):
        assert f"{what}" in check and "REACHABLE" not in check
    assert result["score"] == 35  # the grader's own results.json, nothing the cells wrote
    assert KEY not in json.dumps(result)
    assert BONUS_TEST not in {t["name"] for t in result["tests"]}  # no bonus tried


# the batch's correct ring, correct only where it runs as uid 65534 and cannot read the key
RING_AS_NOBODY = "import os\n" + bonus_cases.RING.replace(
    "    r, n = comm.Get_rank(), comm.Get_size()\n",
    "    r, n = comm.Get_rank(), comm.Get_size()\n"
    "    if os.getuid() != 65534 or os.access('/autograder/source/autograder', os.R_OK):\n"
    "        return buffer\n",
)
# the forger of the batch's test (bonus_cases.FORGE: the relay's verdict files, the counter),
# reaching for Gradescope's own files too: results.json and the instructor key
FORGE_ON_GRADESCOPE = bonus_cases.FORGE.replace(
    "    comm.bytes_sent",
    """    for path in ('/autograder/results/results.json',
                 '/autograder/source/autograder/instructor.key'):
        try:
            open(path, 'w').write('{"score": 1000}')
        except OSError:
            pass
    comm.bytes_sent""",
)


@pytest.mark.slow
@pytest.mark.mpi
def test_the_mpi_bonus_is_graded_on_gradescope_as_the_unprivileged_user(gradescope):
    """The bundle's own MPI (the mpich wheel's mpiexec, mpi4py) on 2 and 3 real ranks, in a
    container without namespaces: mpiexec and the relays run as root, each rank's student code
    as uid 65534. A correct ring earns the bonus on top of the 35 points; a collective or a
    forger earns 0 bonus and keeps its 35; the bonus's test says where the code ran."""
    assert "getuid" in RING_AS_NOBODY and "instructor.key" in FORGE_ON_GRADESCOPE  # rewritten
    cases = {
        "ring": (RING_AS_NOBODY, 4.0),
        "collective": (bonus_cases.COLLECTIVE, 0.0),
        "forge": (FORGE_ON_GRADESCOPE, 0.0),
    }
    for name, (code, points) in cases.items():
        notebook = nbs.solved_notebook("1234567", replace={"bonus_ring": code})
        (result,) = _submit(gradescope, notebook, runs=1, docker_caps=True)
        jsonschema.validate(result, RESULTS_SCHEMA)
        *questions, bonus = result["tests"][1:]
        assert bonus["name"] == BONUS_TEST and bonus["max_score"] == 0, (name, bonus)
        assert bonus["score"] == points, (name, bonus["output"])
        assert sum(t["score"] for t in questions) == 35, name  # the main score is unchanged
        assert result["score"] == 35 + points, name  # extra credit on top
        output = bonus["output"]
        assert "not graded here" not in output and "bonus, 3 ranks" in output, output
        assert "sandbox: unprivileged-user (uid 65534" in output, output
        for what in ("the instructor key", "the hidden tests", "writing the results"):
            assert f"{what}: refused" in output, output
        assert "REACHABLE" not in output, output
        if name == "collective":
            assert "comm.Allreduce is not allowed" in output, output


def test_identity_comes_from_the_documented_fields_through_the_roster() -> None:
    roster = Roster(
        [
            Student("1234567", keys={LmsKey("email", "jane@uni.edu")}),
            Student("7654321", keys={LmsKey("email", "bob@uni.edu")}),
        ],
        "plain",
    )
    jane = {"users": [{"email": "Jane@uni.edu", "id": 1, "name": "Jane Doe"}]}
    assert gradescope_identity(jane, "whatever", roster) == ("1234567", [])
    pair = {"users": [*jane["users"], {"email": "bob@uni.edu", "id": 2, "name": "Bob"}]}
    student_id, notes = gradescope_identity(pair, "7654321", roster)
    assert student_id == "7654321" and "group submission" in notes[0]
    # no roster: a user the notebook names is verified; anything else is flagged
    assert gradescope_identity(jane, "jane@uni.edu")[0] == "jane@uni.edu"
    unverified, notes = gradescope_identity(jane, "1234567")
    assert unverified is None and "not verified" in notes[-1]
    assert gradescope_identity({}, "x")[0] is None


def test_results_show_nothing_hidden_before_publication() -> None:
    result = GradeResult(
        student_id="1",
        score=3.0,
        max_score=6.0,
        status=Verdict(Status.GRADED),
        points={"ring_allreduce_time": 3.0, "tree_allreduce_time": 0.0},
        max_points={"ring_allreduce_time": 3.0, "tree_allreduce_time": 3.0},
        failures={"tree_allreduce_time": [Failure("tree_n_not_power_of_two", "use ceil(log2 N)")]},
    )
    results = gradescope_results(result, ["file: collective_comms.ipynb: graded"])
    jsonschema.validate(results, RESULTS_SCHEMA)
    assert "tree" not in results["output"] and results["stdout_visibility"] == "hidden"
    tree = results["tests"][2]
    assert tree["visibility"] == "after_published" and "ceil(log2 N)" in tree["output"]
    assert results["score"] == sum(t.get("score", 0) for t in results["tests"]) == 3.0


def test_the_bonus_is_its_own_extra_credit_test_and_adds_to_the_score() -> None:
    """The bonus's runs (records.Bonus, as bonus_step makes them) become a test of max_score 0;
    the top-level score, which overrides the tests' total, is the main score plus the bonus,
    and equals the sum of the tests."""
    runs = [
        BonusRun(2, 4.0, 4.0, "ok"),
        BonusRun(3, 2.0, 4.0, "partial", ["rank 0 sent 16000 bytes; a ring sends 10672 here"]),
    ]
    result = GradeResult(
        student_id="1",
        score=3.0,
        max_score=3.0,
        status="graded",
        points={"ring_allreduce_time": 3.0},
        max_points={"ring_allreduce_time": 3.0},
        bonus=3.0,
        bonus_max=4.0,
        bonus_run=Bonus(3.0, 4.0, runs),
    )
    sandbox = ["sandbox: unprivileged-user (uid 65534; this container refuses namespaces)"]
    results = gradescope_results(result, ["file: collective_comms.ipynb: graded"], sandbox)
    jsonschema.validate(results, RESULTS_SCHEMA)
    ring, bonus = results["tests"][1:]
    assert ring["output"] == "ring_allreduce_time: 3 / 3" and ring["score"] == 3
    assert (bonus["name"], bonus["score"], bonus["max_score"]) == (BONUS_TEST, 3.0, 0.0)
    assert bonus["output"].splitlines()[:3] == [
        "bonus, 2 ranks: 4 / 4 (ok)",
        "bonus, 3 ranks: 2 / 4 (partial)",
        "  - rank 0 sent 16000 bytes; a ring sends 10672 here",
    ]
    assert sandbox[0] in bonus["output"]
    assert results["score"] == 6.0 == sum(t.get("score", 0) for t in results["tests"])
    # tried where MPI cannot run: the row says so, no points, no sandbox claimed
    result.bonus, result.bonus_max = 0.0, 0.0
    result.bonus_run = Bonus(0.0, 4.0, graded=False, note="mpi4py is not installed")
    (bonus,) = gradescope_results(result, [], sandbox)["tests"][1:]
    assert bonus["output"] == "bonus: not graded here (mpi4py is not installed)"
    assert bonus["score"] == 0


def test_a_bundle_without_its_key_gives_a_row_and_runs_nothing(tmp_path) -> None:
    """Gradescope and PrairieLearn share pipeline.grade_hosted: with no instructor key in the
    bundle it never raises and never makes a key; the row says why, no sandbox line."""
    from commslab.grading import pipeline
    from commslab.grading.sandbox import Limits

    autograder = tmp_path / "autograder"
    shutil.copytree(ROOT / "autograder" / "tests", autograder / "tests")
    notebook = nbs.write(nbs.solved_notebook("1234567"), tmp_path / "collective_comms.ipynb")
    result, lines = pipeline.grade_hosted(
        notebook,
        term=TERM,
        student_id="1234567",
        autograder_dir=autograder,
        results_dir=tmp_path / "results",
        limits=Limits(),
    )
    assert result.status.kind is Status.GRADER_ERROR and result.score == 0 and lines == []
    assert result.max_score > 0  # the row still counts the points possible
    assert not (autograder / "instructor.key").exists()
