"""Reading what a TA hands the grader: folders and zips, every file bounded before it is written.

    budget = Budget(UnpackLimits())
    files, problem = unzip(path, "class.zip", workdir / "in-000", budget)

Every file is guarded on its own: a zip that is corrupt, encrypted, uses an unsupported
compression method, holds a member over a limit, a zip bomb or unreadable names gives files
with a status (each becomes a row), never an exception, and the batch goes on. Members are
never extracted by their own path (no zip-slip): each part of the path is sanitised.

Limits (UnpackLimits; each one is decided from the zip's central directory BEFORE a byte is
written, then enforced again while copying, since a header can lie):

* a member: at most `member_bytes` (the notebook reader's own cap,
  commslab.grading.notebook.MAX_NOTEBOOK_BYTES) and, above 1 MiB, at most `member_ratio`
  times its compressed size. A Jupyter notebook is JSON with base64 images: DEFLATE gives it
  a few times, not hundreds (an assumption, measured on this lab's notebooks: 3-8:1);
  1000:1 is the ceiling of DEFLATE itself (zlib's technical details, "maximum compression
  factor" 1032:1), so 950:1 members are bombs, not notebooks;
* a zip: at most `zip_members` members, and at most `zip_ratio` times its own size plus
  `zip_slack` bytes extracted in all (many small members at a high ratio each);
* the batch: at most `batch_bytes` extracted and `batch_members` members over all inputs.

A member over a limit keeps its row ("not graded: ... limit ..."); nothing of it is written.
"""

from __future__ import annotations

import os
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from commslab.grading.notebook import MAX_NOTEBOOK_BYTES
from commslab.grading.records import Status, Verdict

MAX_NAME_CHARS = 120
MIB = 1024**2


@dataclass(frozen=True)
class UnpackLimits:
    """The bounds of one batch (see the module docstring for where each number comes from)."""

    member_bytes: int = MAX_NOTEBOOK_BYTES
    member_ratio: float = 100.0
    ratio_floor_bytes: int = MIB  # members at most this large are not ratio-checked
    zip_members: int = 10_000
    zip_ratio: float = 100.0
    zip_slack: int = 16 * MIB
    batch_bytes: int = 4 * 1024**3
    batch_members: int = 50_000


@dataclass
class Budget:
    """What the batch has used of its limits so far (one per `commslab grade`)."""

    limits: UnpackLimits = field(default_factory=UnpackLimits)
    bytes: int = 0
    members: int = 0


@dataclass
class File:
    """One file found in the input: where it is now, what it was called, how it was read."""

    path: Path | None
    source: str
    parts: tuple[str, ...]  # path parts relative to the export's root, as the LMS wrote them
    status: Verdict | None = None  # set: not graded, and why
    unsafe: bool = False  # a member's name no platform writes (absolute, '..'): names nobody
    inherited: object | None = None  # the identity of the student's zip it came from


def hidden(parts: tuple[str, ...]) -> bool:
    """Hidden files and folders (.ipynb_checkpoints, .DS_Store) and macOS's __MACOSX/."""
    return any((p.startswith(".") and p not in (".", "..")) or p == "__MACOSX" for p in parts)


def printable(text: str) -> str:
    """A name as it can go into a CSV: undecodable bytes and control characters replaced."""
    text = os.fsencode(text).decode("utf-8", "replace")
    return re.sub(r"[\x00-\x1f\x7f]", "?", text)


def _safe_part(part: str) -> str:
    part = re.sub(r"[^\w.\- ()+,@]", "_", printable(part)).strip()
    if part in ("", ".", ".."):
        part = "_"
    return part[:MAX_NAME_CHARS]


def member_names(zip_path: Path) -> list[tuple[str, ...]]:
    """The parts of every file in a zip, read from its central directory only (nothing is
    extracted): what the platform's signature is decided from. [] if it cannot be read."""
    try:
        with _open_zip(zip_path, None) as archive:
            infos = archive.infolist()
    except Exception:  # a corrupt zip: it gets its row when it is unpacked
        return []
    names = []
    for info in infos:
        parts = _parts(info.filename)
        if not info.is_dir() and not hidden(parts) and not unsafe_path(info.filename):
            names.append(parts)
    return names


def unsafe_path(name: str) -> bool:
    """A member name no platform writes: absolute, with a drive, or climbing out with "..".
    It keeps its row ("not graded: an unsafe path") and has no say in the platform."""
    name = name.replace("\\", "/")
    return (
        name.startswith("/") or re.match(r"^[A-Za-z]:", name) is not None or ".." in name.split("/")
    )


def _parts(name: str) -> tuple[str, ...]:
    member = PurePosixPath(printable(name.replace("\\", "/")))
    return tuple(p for p in member.parts if p not in ("/", "", ".", "..")) or ("file",)


def _not_graded(why: str) -> Verdict:
    return Verdict(Status.NOT_GRADED, why)


def _member_status(info: zipfile.ZipInfo, limits: UnpackLimits) -> Verdict | None:
    if info.flag_bits & 0x1:
        return _not_graded("encrypted in the zip")
    if info.compress_type not in (
        zipfile.ZIP_STORED,
        zipfile.ZIP_DEFLATED,
        zipfile.ZIP_BZIP2,
        zipfile.ZIP_LZMA,
    ):
        return _not_graded(f"unsupported compression method {info.compress_type} in the zip")
    if info.file_size > limits.member_bytes:
        return _not_graded(f"too large in the zip (over {limits.member_bytes // MIB} MiB)")
    if info.file_size > limits.ratio_floor_bytes and info.file_size > limits.member_ratio * max(
        info.compress_size, 1
    ):
        return _not_graded(
            f"too large in the zip (compressed more than {limits.member_ratio:g}:1, not a notebook)"
        )
    return None


def unzip(
    zip_path: Path, source: str, target: Path, budget: Budget
) -> tuple[list[File], Verdict | None]:
    """The zip's files, each written under `target` by its sanitised path; (files, problem).

    Every limit is decided for every member before the first one is written; a member over a
    limit keeps its row and nothing of it is written."""
    limits = budget.limits
    try:
        archive = _open_zip(zip_path, target)
        infos = archive.infolist()
    except Exception as err:  # BadZipFile, OSError, ValueError, a bad central directory...
        return [], Verdict(Status.CORRUPT_ZIP, f"{err}"[:200])
    zip_cap = limits.zip_ratio * max(zip_path.stat().st_size, 1) + limits.zip_slack
    planned: list[tuple[File, zipfile.ZipInfo]] = []
    files: list[File] = []
    zip_bytes = zip_members = 0
    for info in infos:
        parts = _parts(info.filename)
        if info.is_dir() or hidden(parts):
            continue
        file = File(None, f"{source}:{printable(info.filename.replace(chr(92), '/'))}", parts)
        files.append(file)
        if unsafe_path(info.filename):
            file.status = _not_graded("an unsafe path in the zip (absolute or with '..')")
            file.unsafe = True
            continue
        file.status = _member_status(info, limits)
        if file.status is not None:
            continue
        zip_members += 1
        if zip_members > limits.zip_members:
            file.status = _not_graded(f"the zip holds more than {limits.zip_members} files")
        elif zip_bytes + info.file_size > zip_cap:
            file.status = _not_graded(
                f"the zip unpacks to more than {limits.zip_ratio:g} times its size "
                "(a zip bomb, not notebooks)"
            )
        elif budget.members + 1 > limits.batch_members:
            file.status = _not_graded(
                f"the batch's limit of {limits.batch_members} files is reached"
            )
        elif budget.bytes + info.file_size > limits.batch_bytes:
            file.status = _not_graded(
                f"the batch's unpack limit ({limits.batch_bytes // MIB} MiB) is reached"
            )
        else:
            zip_bytes += info.file_size
            budget.bytes += info.file_size
            budget.members += 1
            planned.append((file, info))
    used: set[Path] = set()
    with archive:
        for file, info in planned:
            destination = target.joinpath(*(_safe_part(p) for p in file.parts))
            while destination in used:
                destination = destination.with_name("_" + destination.name)
            used.add(destination)
            try:
                destination.parent.mkdir(parents=True, exist_ok=True)
                written = _copy_capped(archive, info, destination, limits)
            except Exception as err:  # NotImplementedError, BadZipFile, zlib.error, OSError...
                file.status = Verdict(
                    Status.CORRUPT_ZIP_MEMBER, f"{type(err).__name__}: {err}"[:200]
                )
                destination.unlink(missing_ok=True)
                continue
            if written is None:
                file.status = _not_graded("too large in the zip (larger than its header says)")
                continue
            file.path = destination
    return files, None


def _open_zip(zip_path: Path, workdir: Path | None) -> zipfile.ZipFile:
    """The zip, also when a member's name claims UTF-8 (flag bit 11) but is not: Python
    refuses the whole zip then, so such names are re-read as CP437 from a patched copy
    (APPNOTE.TXT 4.4.4: without bit 11 a name is CP437), and every other file keeps its row."""
    try:
        return zipfile.ZipFile(zip_path)
    except UnicodeDecodeError:
        pass
    data = bytearray(zip_path.read_bytes())
    at = data.find(b"PK\x01\x02")
    while at >= 0 and at + 46 <= len(data):
        flags = int.from_bytes(data[at + 8 : at + 10], "little")
        length = int.from_bytes(data[at + 28 : at + 30], "little")
        name = bytes(data[at + 46 : at + 46 + length])
        if flags & 0x800:
            try:
                name.decode("utf-8")
            except UnicodeDecodeError:
                data[at + 8 : at + 10] = (flags & ~0x800).to_bytes(2, "little")
        at = data.find(b"PK\x01\x02", at + 46 + length)
    if workdir is None:
        import io

        return zipfile.ZipFile(io.BytesIO(bytes(data)))
    workdir.mkdir(parents=True, exist_ok=True)
    patched = workdir.with_name(workdir.name + "-names.zip")
    patched.write_bytes(bytes(data))
    return zipfile.ZipFile(patched)


def _copy_capped(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, destination: Path, limits: UnpackLimits
) -> int | None:
    """Copy one member, stopping at its declared size and the member cap whatever the
    stream holds; None (and nothing left on disk) if it is larger."""
    cap = min(info.file_size, limits.member_bytes)
    written = 0
    with archive.open(info) as source, open(destination, "wb") as target:
        while chunk := source.read(1 << 20):
            written += len(chunk)
            if written > cap:
                break
            target.write(chunk)
    if written > cap:
        destination.unlink()
        return None
    return written


def walk(folder: Path, source: str) -> list[File]:
    """Every file under a folder (hidden ones skipped); a symbolic link gets a row, unread."""
    files = []
    for path in sorted(folder.rglob("*")):
        parts = path.relative_to(folder).parts
        if hidden(parts) or (path.is_dir() and not path.is_symlink()):
            continue
        shown = printable("/".join(parts))
        status = _not_graded("a symbolic link") if path.is_symlink() else None
        files.append(File(None if status else path, f"{source}{shown}", parts, status))
    return files
