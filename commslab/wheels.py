"""Wheels written from the installed package: the student's, and the grader's.

- `student_wheel`: `comms-lab-student`, the student side and nothing more: the science (all of
  comms_core), the notebook's helpers (all of commslab.notebook, its public checks included)
  and the commslab modules that these or the released notebook import. The grader
  (commslab.grading: hidden checks, mission answers) and everything else of commslab stay out;
  the release refuses to build a student wheel that would reach the grader.
  It also carries data files for the student's Jupyter (`jupyter_data`): JupyterLab's
  default-setting override that saves the widgets' state in the notebook, and a prebuilt
  extension that keeps a reopened notebook from showing "modified" before an edit (see below).
- `full_wheel`: `comms-lab` itself, for the Gradescope bundle and the grading image.

Both are written from the files this interpreter imports (an editable checkout or a plain
install alike), with fixed timestamps and sorted entries, so a release is reproducible byte for
byte. The format is the binary distribution format of the Python Packaging Authority
(https://packaging.python.org/en/latest/specifications/binary-distribution-format/) with core
metadata 2.1 (https://packaging.python.org/en/latest/specifications/core-metadata/).
"""

from __future__ import annotations

import ast
import base64
import hashlib
import importlib.util
import zipfile
from dataclasses import dataclass, field
from email.parser import HeaderParser
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

DISTRIBUTION = "comms-lab"
STUDENT_DISTRIBUTION = "comms-lab-student"
ZIP_DATE = (2020, 1, 1, 0, 0, 0)  # fixed: the same files give the same bytes
STUDENT_PACKAGES = ("comms_core", "commslab.notebook")  # shipped whole, data files included
FORBIDDEN = ("commslab.grading",)  # never on the student side
STUDENT_EXTRAS = ("lab",)  # the pyproject extras a student's Jupyter needs
# Scripts that mpiexec runs by path or with -m (never imported, so no import reaches them):
# the notebook's calibration and its bonus check. The grader's relay stays out.
STUDENT_WORKERS = ("commslab.mpi.allreduce_timing", "commslab.mpi.bonus_runner")
_JUNK = {"__pycache__", ".ipynb_checkpoints"}

# Jupyter's widget manager (jupyterlab_widgets, plugin `@jupyter-widgets/jupyterlab-manager:plugin`)
# saves the widgets' state into the notebook's metadata (`widgets`,
# application/vnd.jupyter.widget-state+json) on every save only when its `saveState` setting is
# true (default false, its schemas/.../plugin.json); on reopening, it rebuilds the views from that
# state, so a notebook whose kernel is gone shows its controls instead of "Error displaying
# widget: model not found". JupyterLab and Notebook 7 read default-setting overrides from
# {sys.prefix}/share/jupyter/lab/settings/overrides.d/*.json, one file per package, before the
# user's own overrides.json (jupyterlab_server.settings_utils._get_overrides; the folder is
# jupyterlab.commands.get_app_dir() + "/settings" in both apps). The student wheel installs this
# file there as a wheel data file ({distribution}-{version}.data/data/, the "data" scheme =
# sys.prefix); Settings > "Save Widget State Automatically" still turns it off.
JUPYTER_OVERRIDES = "share/jupyter/lab/settings/overrides.d/comms-lab.json"
JUPYTER_DATA = {
    JUPYTER_OVERRIDES: b'{"@jupyter-widgets/jupyterlab-manager:plugin": {"saveState": true}}\n'
}
# With saveState on, the widget manager marks a notebook "modified" as soon as it is reopened
# (WidgetManager.register_model calls setDirty() for every widget restored from the notebook).
# The student wheel also installs a prebuilt JupyterLab 4 extension that lowers that mark until
# the notebook's content first changes (commslab/labextension/: its source, its build and how to
# rebuild it). JupyterLab and Notebook 7 load prebuilt (federated) extensions from
# {sys.prefix}/share/jupyter/labextensions/<name>/ (jupyter_core.paths.jupyter_path, see
# https://jupyterlab.readthedocs.io/en/stable/extension/extension_dev.html#prebuilt-extensions);
# nothing is downloaded or built on the student's machine.
LABEXTENSION = "comms-lab-reopen"
JUPYTER_LABEXTENSIONS = "share/jupyter/labextensions"


class StudentSideError(RuntimeError):
    """The student wheel would contain the grader."""


@dataclass(frozen=True)
class WheelSpec:
    """What goes into one wheel: its name, version, metadata, {archive path: bytes} and
    {path under sys.prefix: bytes} (data files, installed outside site-packages)."""

    name: str
    version: str
    metadata: str
    files: dict[str, bytes]
    entry_points: str = ""
    data: dict[str, bytes] = field(default_factory=dict)

    @property
    def filename(self) -> str:
        return f"{self.stem}-py3-none-any.whl"

    @property
    def stem(self) -> str:
        return f"{self.name.replace('-', '_')}-{self.version}"


class MetadataError(RuntimeError):
    """The installed package's metadata is missing or unusable: no wheel is written."""


def installed(name: str = DISTRIBUTION) -> metadata.Distribution:
    """The distribution NAME as pip installed it: the first one on sys.path whose METADATA
    (a dist-info directory) has a version. A stale `comms_lab.egg-info` in a checkout comes
    first on sys.path when Python starts there, and has no METADATA (setuptools writes
    PKG-INFO there): taking it gave an empty METADATA and a wheel that pip on Python 3.10
    refuses ("Missing 'Version:' header"). Raises MetadataError when none is usable."""
    found = list(metadata.distributions(name=name))
    for dist in found:
        if _headers(dist.read_text("METADATA") or "").get("Version"):
            return dist
    where = ", ".join(str(getattr(d, "_path", d)) for d in found) or "nowhere"
    raise MetadataError(
        f"{name} has no installed metadata with a version (found: {where}); install it with "
        "`pip install -e .` (or `pip install .`) and delete any stale *.egg-info folder"
    )


def _headers(text: str):
    return HeaderParser().parsestr(text)


def check_metadata(spec: WheelSpec) -> None:
    """Refuse a wheel whose METADATA lacks Metadata-Version, Name or Version, or names another
    package or version than its file name (core metadata 2.1: the three are required)."""
    headers = _headers(spec.metadata)
    for field_name in ("Metadata-Version", "Name", "Version"):
        if not (headers.get(field_name) or "").strip():
            raise MetadataError(f"{spec.filename}: METADATA has no {field_name!r} header")
    if canonicalize_name(headers["Name"]) != canonicalize_name(spec.name):
        raise MetadataError(f"{spec.filename}: METADATA names {headers['Name']!r}")
    if headers["Version"].strip() != spec.version:
        raise MetadataError(f"{spec.filename}: METADATA says version {headers['Version']!r}")


def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(package)
    return Path(next(iter(spec.submodule_search_locations)))


def jupyter_data() -> dict[str, bytes]:
    """The student wheel's data files, {path under sys.prefix: bytes}: JUPYTER_DATA and every
    file of the built extension LABEXTENSION (commslab/labextension/LABEXTENSION/)."""
    root = _package_dir("commslab") / "labextension" / LABEXTENSION
    built = {
        f"{JUPYTER_LABEXTENSIONS}/{LABEXTENSION}/{path.relative_to(root).as_posix()}": path
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }
    if not any(name.endswith("/package.json") for name in built):
        raise FileNotFoundError(f"{root}: no built extension (commslab/labextension/README.md)")
    return {**JUPYTER_DATA, **{name: path.read_bytes() for name, path in built.items()}}


def _package_files(package: str) -> dict[str, bytes]:
    """Every file of an importable package (`a` or `a.b`), keyed by its path in a wheel."""
    top, *rest = package.split(".")
    root = _package_dir(top).joinpath(*rest)
    prefix = package.replace(".", "/")
    files = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not _JUNK & set(path.parts) and path.suffix != ".pyc":
            files[f"{prefix}/{path.relative_to(root).as_posix()}"] = path.read_bytes()
    return files


def _module_name(arcname: str) -> str:
    """`a/b/c.py` -> `a.b.c`; `a/b/__init__.py` -> `a.b`."""
    name = arcname.removesuffix(".py").replace("/", ".")
    return name.removesuffix(".__init__")


def _module_file(module: str) -> Path | None:
    """The source file of `a.b.c` (a module or a package's __init__), if it exists."""
    top, *rest = module.split(".")
    try:
        base = _package_dir(top).joinpath(*rest)
    except ModuleNotFoundError:
        return None
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imports_of(source: str, module: str = "", *, is_package: bool = False) -> set[str]:
    """The modules a piece of code imports anywhere (top level or inside functions).

    `from a import b` counts as a and, when b is a submodule, a.b (resolved by the caller).
    """
    names: set[str] = set()
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parent = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{parent}.{base}" if base else parent
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def student_modules(entry_sources: list[str]) -> list[str]:
    """The modules of ours that ENTRY_SOURCES and the STUDENT_PACKAGES reach (those packages'
    own modules included); raise StudentSideError if the grader is among them."""
    ours = ("commslab", "comms_core")
    todo = {name for src in entry_sources for name in imports_of(src)} | set(STUDENT_WORKERS)
    for package in STUDENT_PACKAGES:
        for arcname, data in _package_files(package).items():
            if "/public_tests/" in arcname:  # files the checker runs, not modules
                todo |= imports_of(data.decode("utf-8"))
            elif arcname.endswith(".py"):
                todo.add(_module_name(arcname))
    reached: set[str] = set()
    parents = dict.fromkeys(todo, "the notebook")  # module -> who imports it (for errors)
    while todo:
        name = todo.pop()
        if name in reached or name.split(".")[0] not in ours:
            continue
        path = _module_file(name)
        if path is None:  # `from pkg import function`: not a module
            continue
        if name.startswith(FORBIDDEN):
            raise StudentSideError(
                f"the student wheel would contain the grader: {parents[name]} imports {name}"
            )
        reached.add(name)
        parts = name.split(".")
        todo |= {".".join(parts[:i]) for i in range(1, len(parts))}  # the packages above
        found = imports_of(
            path.read_text(encoding="utf-8"), name, is_package=path.stem == "__init__"
        )
        for child in found:
            parents.setdefault(child, name)
        todo |= found - reached
    return sorted(reached)


def _requirements(
    extras: tuple[str, ...], imported: set[str]
) -> tuple[list[str], dict[str, list[str]]]:
    """The student's requirements: comms-lab's base requirements whose distribution provides a
    module in IMPORTED (top-level names the student side imports), plus EXTRAS; the `mpi` extra
    kept as one. A base requirement the student side never imports (the CLI's `rich`) stays out."""
    providers = metadata.packages_distributions()
    used = {canonicalize_name(d) for top in imported for d in providers.get(top, [top])}
    required: list[str] = []
    optional: dict[str, list[str]] = {}
    for line in installed().requires or []:
        req = Requirement(line)
        if req.name == DISTRIBUTION:  # `comms-lab[lab]` inside another extra
            continue
        if req.marker is None or "extra" not in str(req.marker):  # base (maybe per Python)
            if canonicalize_name(req.name) in used:
                required.append(str(req))
            continue
        marker, req.marker = req.marker, None
        if any(marker.evaluate({"extra": e}) for e in extras):
            required.append(str(req))
        elif marker.evaluate({"extra": "mpi"}):
            optional.setdefault("mpi", []).append(str(req))
    return sorted(set(required)), optional


def student_wheel(entry_sources: list[str]) -> WheelSpec:
    """The student-side package: the modules the notebook reaches and the lab's requirements."""
    version = installed().version
    files: dict[str, bytes] = {}
    for module in student_modules(entry_sources):
        path = _module_file(module)
        assert path is not None
        arcname = module.replace(".", "/") + ("/__init__.py" if path.stem == "__init__" else ".py")
        files[arcname] = path.read_bytes()
    for package in STUDENT_PACKAGES:  # data files and the public checks too
        for name, data in _package_files(package).items():
            files.setdefault(name, data)
    imported = {  # the top-level names the notebook, the modules and the checks import
        name.split(".")[0]
        for source in [*entry_sources, *(d.decode() for n, d in files.items() if n.endswith(".py"))]
        for name in imports_of(source)
    }
    required, optional = _requirements(STUDENT_EXTRAS, imported)
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {STUDENT_DISTRIBUTION}",
        f"Version: {version}",
        "Summary: The student side of comms-lab: the science, the notebook's helpers.",
        f"Requires-Python: {installed().metadata['Requires-Python']}",
        *(f"Requires-Dist: {r}" for r in required),
    ]
    for extra, reqs in optional.items():
        lines += [
            f"Provides-Extra: {extra}",
            *(f'Requires-Dist: {r}; extra == "{extra}"' for r in reqs),
        ]
    return WheelSpec(
        STUDENT_DISTRIBUTION, version, "\n".join(lines) + "\n", files, data=jupyter_data()
    )


def full_wheel() -> WheelSpec:
    """comms-lab as installed here (metadata and entry points from its own dist-info, never a
    stale egg-info: `installed`)."""
    dist = installed()
    files = {**_package_files("comms_core"), **_package_files("commslab")}
    return WheelSpec(
        DISTRIBUTION,
        dist.version,
        dist.read_text("METADATA") or "",  # installed() checked it has a version
        files,
        entry_points=dist.read_text("entry_points.txt") or "",
    )


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def write_wheel(spec: WheelSpec, out_dir: Path) -> Path:
    """Write SPEC as a wheel in OUT_DIR (same inputs, same bytes); return its path. Raises
    MetadataError (check_metadata) rather than write a wheel pip would refuse."""
    check_metadata(spec)
    info = f"{spec.stem}.dist-info"
    wheel_meta = (
        "Wheel-Version: 1.0\nGenerator: commslab\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    entries = dict(sorted(spec.files.items()))
    entries.update(sorted((f"{spec.stem}.data/data/{p}", d) for p, d in spec.data.items()))
    entries[f"{info}/METADATA"] = spec.metadata.encode()
    entries[f"{info}/WHEEL"] = wheel_meta.encode()
    if spec.entry_points:
        entries[f"{info}/entry_points.txt"] = spec.entry_points.encode()
    record = [_record_line(name, data) for name, data in entries.items()]
    entries[f"{info}/RECORD"] = ("\n".join([*record, f"{info}/RECORD,,"]) + "\n").encode()
    out = Path(out_dir) / spec.filename
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zinfo = zipfile.ZipInfo(name, ZIP_DATE)
            zinfo.external_attr = 0o644 << 16
            zinfo.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(zinfo, data)
    return out
