"""Every CSV the grader writes goes through here: no cell runs as a formula, no cell is huge.

    spreadsheet_safe(value)   the cell as a spreadsheet may show it
    SafeWriter(f)             csv.writer whose rows go through spreadsheet_safe
    SafeDictWriter(f, names)  csv.DictWriter, the same for every value (a roster's columns too)

Formulas: OWASP "CSV Injection" (https://owasp.org/www-community/attacks/CSV_Injection) names
the characters that make a spreadsheet read a cell as a formula: =, +, -, @, tab and carriage
return. Such a cell gets a leading apostrophe (OWASP's advice); a plain number ("-0.5") is
left as it is, since a gradebook needs it as a number, and so is a lone "-" (Moodle's grading
worksheet writes it for "never"; one character is no formula).

Size: Excel holds at most 32,767 characters in a cell (Microsoft, "Excel specifications and
limits"); LibreOffice and the LMS importers are no better. A longer cell (a notes list a
crafted notebook blew up) is cut to MAX_CELL_CHARS with a marker saying how much was cut.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import IO

__all__ = [
    "FORMULA_START",
    "MAX_CELL_CHARS",
    "SafeDictWriter",
    "SafeWriter",
    "spreadsheet_safe",
    "spreadsheet_value",
]

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MAX_CELL_CHARS = 32_000  # under Excel's 32,767 with room for the marker
_PLAIN_NUMBER = re.compile(r"-|-?\d+(\.\d+)?")


def _bounded(text: str) -> str:
    if len(text) <= MAX_CELL_CHARS:
        return text
    cut = len(text) - MAX_CELL_CHARS
    return f"{text[:MAX_CELL_CHARS]} […{cut} more characters cut]"


def spreadsheet_safe(value: object) -> object:
    """A CSV cell a spreadsheet will not run and can hold: text starting with =, +, -, @,
    tab or CR gets a leading apostrophe (plain numbers stay as they are); text longer than
    MAX_CELL_CHARS is cut, saying how much."""
    if not isinstance(value, str):
        return value
    value = _bounded(value)
    if value.startswith(FORMULA_START) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def spreadsheet_value(cell: str) -> str:
    """A cell read back from a CSV we wrote (overrides.csv, the review page's ta_scores.csv):
    the apostrophe spreadsheet_safe put before a formula character is taken off again."""
    if cell.startswith("'") and cell[1:2] and cell[1:].startswith(FORMULA_START):
        return cell[1:]
    return cell


class SafeWriter:
    """csv.writer whose rows go through spreadsheet_safe: every CSV the TA opens uses it."""

    def __init__(self, f: IO[str]) -> None:
        self._writer = csv.writer(f)

    def writerow(self, row: Sequence[object]) -> None:
        self._writer.writerow([spreadsheet_safe(v) for v in row])

    def writerows(self, rows: Iterable[Sequence[object]]) -> None:
        for row in rows:
            self.writerow(row)


class SafeDictWriter:
    """csv.DictWriter whose values (and header) go through spreadsheet_safe."""

    def __init__(self, f: IO[str], fieldnames: Sequence[str]) -> None:
        self._fields = list(fieldnames)
        self._writer = SafeWriter(f)

    def writeheader(self) -> None:
        self._writer.writerow(self._fields)

    def writerow(self, row: Mapping[str, object]) -> None:
        self._writer.writerow([row.get(k, "") for k in self._fields])
