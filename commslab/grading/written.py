"""Written answers: what earns the automatic point, what is filler, what a TA must look at.

    filler_problem(text, templates)     why an answer is filler ("" if it is the student's own)
    class_flags(answers)                answers identical to another submission's, per student

The automatic point is for presence and substance only (docs/LAB_SPEC.md "Grading rules"): a TA
scores the content through the review flow (commslab.grading.review). Filler earns nothing
automatically and is flagged for the TA:

- the question text or the release's placeholder, in full or pasted more than once;
- lorem ipsum (the typesetters' dummy text, e.g. "Lorem ipsum dolor sit amet ...");
- repeated text: the same sentence or phrase over and over (few distinct words, or a text
  that compresses to a small fraction of its length);
- text identical to another submission's (after normalising case, spacing and punctuation).
  One submission cannot know this; the batch does (`class_flags`), and the TA review shows
  every copy side by side.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
import zlib
from collections import defaultdict
from collections.abc import Iterable

PLACEHOLDERS = (
    "YOUR ANSWER HERE",
    "Type your answer here, replacing this text.",
    "_Type your answer here, replacing this text._",
    "_Write your answer here (see the sentences asked for above)._",  # commslab.release.TEXT_STUB
    "Write your answer here (see the sentences asked for above).",
    "_Write your answer here (3–6 sentences)._",  # the stub of releases before 2026-fall
    "Write your answer here (3–6 sentences).",
)
# The opening words of the standard Lorem ipsum passage (Cicero, De finibus 1.10.32, as the
# typesetting industry scrambled it) and its most frequent pseudo-Latin words.
LOREM = frozenset(
    "lorem ipsum dolor sit amet consectetur consectetuer adipiscing adipisicing elit sed "
    "eiusmod tempor incididunt ut labore et dolore magna aliqua enim ad minim veniam quis "
    "nostrud exercitation ullamco laboris nisi aliquip ex ea commodo consequat duis aute irure "
    "reprehenderit voluptate velit esse cillum eu fugiat nulla pariatur excepteur sint "
    "occaecat cupidatat non proident sunt culpa qui officia deserunt mollit anim id est laborum "
    "vestibulum ante primis faucibus nunc nisl pellentesque habitant morbi tristique senectus "
    "netus malesuada fames ac turpis egestas mauris vitae viverra".split()
)
LOREM_SHARE = 0.3  # a text whose words are this share or more lorem ipsum is dummy text
MIN_DISTINCT_SHARE = 0.35  # fewer distinct words than this share of all words: repeated text
MIN_COMPRESSED_SHARE = 0.25  # zlib shrinks repeated text far below ordinary prose (~0.5-0.6)
TEMPLATE_RATIO = 0.8  # difflib ratio above which an answer is the question, edited


def words(text: str) -> list[str]:
    """Lower-case words (letters, digits and the symbols of the lab's formulas)."""
    text = unicodedata.normalize("NFKC", text).lower().replace("_", " ")
    return re.findall(r"[\w′'’−]+", text)


def normalised(text: str) -> str:
    """The text as one line of lower-case words: what 'identical' compares."""
    return " ".join(words(text))


def _without(text: str, parts: Iterable[str]) -> str:
    """The text with every occurrence of each part removed (compared as normalised words)."""
    own = f" {normalised(text)} "
    for part in sorted(map(normalised, parts), key=len, reverse=True):
        while part and f" {part} " in own:
            own = own.replace(f" {part} ", " ")
    return own.strip()


def own_words(text: str) -> list[str]:
    """The answer's words with the placeholders taken out."""
    return _without(text, PLACEHOLDERS).split()


def _like_template(answer: list[str], template: list[str]) -> bool:
    """The answer is the template, pasted once to three times with small edits
    (difflib's similarity ratio above TEMPLATE_RATIO)."""
    return any(
        difflib.SequenceMatcher(None, answer, template * k, autojunk=False).ratio() > TEMPLATE_RATIO
        for k in (1, 2, 3)
    )


def filler_problem(text: str | None, templates: Iterable[str] = ()) -> str:
    """Why this answer is filler, for the student's feedback and the TA's flags; "" if not.

    "no answer", "still the placeholder text", "a copy of the question or the template",
    "lorem ipsum (dummy text)", "the same text repeated".
    """
    if not text or not text.strip():
        return "no answer"
    templates = [t for t in templates if t and t.strip()]
    answer = own_words(text)
    if not answer:
        return "still the placeholder text"
    own = " ".join(answer)
    for template in templates:
        if not _without(own, [template]) or _like_template(answer, words(template)):
            return "a copy of the question or the template"
    if sum(w in LOREM for w in answer) >= LOREM_SHARE * len(answer):
        return "lorem ipsum (dummy text)"
    if len(answer) >= 8:
        distinct = len(set(answer)) / len(answer)
        raw = own.encode()
        compressed = len(zlib.compress(raw, 9)) / len(raw)
        if distinct < MIN_DISTINCT_SHARE or (len(raw) > 200 and compressed < MIN_COMPRESSED_SHARE):
            return "the same text repeated"
    return ""


IDENTICAL = "identical to another submission's answer"


def class_flags(rows: list[tuple[str, dict[str, str]]]) -> list[dict[str, list[str]]]:
    """Answers shared word for word by two or more students.

    rows: (student id, {grade_id: text}) per submission. Returns, per row, {grade_id: the
    other students' ids} for every answer whose normalised text another student also handed
    in (the same student's other files do not count; empty answers and the placeholder are
    filler already and are not "shared").
    """
    groups: dict[tuple[str, str], set[str]] = defaultdict(set)
    for student, texts in rows:
        for grade_id, text in texts.items():
            own = " ".join(own_words(text or ""))
            if own:
                groups[grade_id, own].add(student)
    flags: list[dict[str, list[str]]] = []
    for student, texts in rows:
        mine = {}
        for grade_id, text in texts.items():
            students = groups.get((grade_id, " ".join(own_words(text or ""))), set())
            if len(students) > 1:
                mine[grade_id] = sorted(students - {student})
        flags.append(mine)
    return flags
