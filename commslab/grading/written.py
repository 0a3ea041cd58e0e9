"""Written answers: what earns the automatic point, what is filler, what a TA must look at.

    fold(text)                          the text as compared: look-alikes, case, spacing folded
    filler_problem(text, templates)     why an answer is filler ("" if it is the student's own)
    own_words(text, templates)          the words the student wrote (no placeholder, question
                                        text or lorem ipsum)
    near_pairs(texts)                   pairs of students whose answers are near-identical
    class_flags(answers)                answers identical or near-identical to another
                                        submission's, per student

The automatic point is for presence and substance only (docs/LAB_SPEC.md "Grading rules"): a TA
scores the content through the review flow (commslab.grading.review). Filler earns nothing
automatically and is flagged for the TA:

- the question text or the release's placeholder, in full, pasted more than once, edited or
  shuffled (most of the answer's word triples are the question's, its characters are the
  question's to TEMPLATE_RATIO, or nearly all its words are the question's words);
- lorem ipsum (the typesetters' dummy text, e.g. "Lorem ipsum dolor sit amet ...");
- repeated text: the same sentence or phrase over and over (few distinct words, or a text
  that compresses to a small fraction of its length);
- text identical or near-identical to another submission's. One submission cannot know
  this; the batch does (`class_flags`), and the TA review shows every copy side by side.

Every comparison is on the folded text (`fold`), so a disguise changes nothing: Unicode NFKC
(compatibility forms: fullwidth, ligatures, superscripts), invisible format characters
(zero-width spaces, Unicode category Cf) removed, every other character mapped to the ASCII
character it is confusable with (Unicode Technical Standard #39's confusables data, as the
`confusable_homoglyphs` package ships it: Cyrillic "а" is Latin "a"), then case and
whitespace folded. The mapping goes one way, towards ASCII: it is the "skeleton" of UTS #39
restricted to what a Latin-script question can be disguised as.

Near-identical answers are found in near-linear time (Broder 1997, "On the resemblance and
containment of documents"): a MinHash of each answer's word pairs, locality-sensitive hashing
to find the candidate pairs (the `datasketch` package), and the candidates' similarity
computed exactly (the Indel similarity of their word sequences, `rapidfuzz`), which is
bit-parallel: two answers of 20,000 words take milliseconds, not the minutes of difflib.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import unicodedata
import zlib
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

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
# Assumptions, tuned on the test class (tests/test_written_filler.py): ordinary prose has a
# distinct-word share above 0.5 and compresses to 0.5-0.6 of its length with zlib.
LOREM_SHARE = 0.3  # a text whose own words are this share or more lorem ipsum is dummy text
MIN_DISTINCT_SHARE = 0.35  # fewer distinct words than this share of all words: repeated text
MIN_COMPRESSED_SHARE = 0.25  # zlib shrinks repeated text far below ordinary prose (~0.5-0.6)
TEMPLATE_SHARE = 0.8  # this share of the words in word triples of the question: a copy
TEMPLATE_RATIO = 0.8  # character similarity to the question (pasted 1-3 times): a copy
VOCABULARY_SHARE = 0.85  # this share of the words the question's (honest answers: 0.2-0.5)
NEAR_RATIO = 0.85  # word-sequence similarity of two students' answers: near-identical
MIN_NEAR_WORDS = 5  # answers shorter than this are not compared with other students'
SHINGLE = 2  # words per MinHash shingle (near_pairs: word pairs)
NUM_PERM = 128  # MinHash permutations: Jaccard estimated to about ±0.09 (1/sqrt(128))
LSH_THRESHOLD = 0.3  # candidate pairs: estimated Jaccard of word pairs above this


@functools.cache
def _skeleton_table() -> dict[int, str]:
    """Non-ASCII character -> the ASCII text it is confusable with (UTS #39 data from
    confusable_homoglyphs); every Unicode format character (category Cf) -> nothing."""
    from confusable_homoglyphs import confusables

    table: dict[int, str] = {}
    for char, homoglyphs in confusables.confusables_data.items():
        if len(char) != 1 or char.isascii():
            continue
        ascii_forms = [h["c"] for h in homoglyphs if h["c"].isascii() and h["c"].strip()]
        if ascii_forms:
            table[ord(char)] = min(ascii_forms, key=len)
    for code in range(0x110000):
        if unicodedata.category(chr(code)) == "Cf":
            table[code] = ""
    return table


def fold(text: str) -> str:
    """The text as every comparison sees it: NFKC, invisible characters removed, look-alike
    characters mapped to ASCII (UTS #39 confusables), lower case, one space between words."""
    text = unicodedata.normalize("NFKC", str(text))
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text.translate(_skeleton_table()))
    return " ".join(text.casefold().split())


def words(text: str) -> list[str]:
    """The folded text's words (letters, digits and the symbols of the lab's formulas)."""
    return re.findall(r"[\w′'’−]+", fold(text).replace("_", " "))


def normalised(text: str) -> str:
    """The text as one line of folded words: what 'identical' compares."""
    return " ".join(words(text))


def _without(text: str, parts: Iterable[str]) -> str:
    """The text with every occurrence of each part removed (compared as folded words)."""
    return _remove(normalised(text), tuple(sorted(map(normalised, parts), key=len, reverse=True)))


def _remove(own: str, parts: tuple[str, ...]) -> str:
    own = f" {own} "
    for part in parts:
        while part and f" {part} " in own:
            own = own.replace(f" {part} ", " ")
    return own.strip()


@functools.cache
def _placeholders() -> tuple[str, ...]:
    return tuple(sorted(map(normalised, PLACEHOLDERS), key=len, reverse=True))


def _not_placeholder(text: str) -> list[str]:
    return _remove(normalised(text), _placeholders()).split()


def _covered(answer: list[str], sources: list[list[str]], n: int = 3) -> list[bool]:
    """Per word of the answer: is it inside a run of n words that also occurs in a source?"""
    grams = {tuple(s[i : i + n]) for s in sources for i in range(len(s) - n + 1)}
    grams |= {tuple(s) for s in sources if 0 < len(s) < n}
    covered = [False] * len(answer)
    for size in {n, *(len(s) for s in sources if 0 < len(s) < n)}:
        for i in range(len(answer) - size + 1):
            if tuple(answer[i : i + size]) in grams:
                covered[i : i + size] = [True] * size
    return covered


def _fresh(answer: list[str], templates: list[str]) -> list[str]:
    """The answer's words outside every run of 3 words the templates also have."""
    covered = _covered(answer, [words(t) for t in templates])
    return [w for w, c in zip(answer, covered, strict=True) if not c]


def own_words(text: str, templates: Iterable[str] = ()) -> list[str]:
    """The student's own words: the answer without placeholders, without the runs of words
    it shares with the question (`templates`), without lorem ipsum."""
    fresh = _fresh(_not_placeholder(text or ""), [t for t in templates if t and t.strip()])
    return [w for w in fresh if w not in LOREM]


def _like_template(answer: str, template: str) -> bool:
    """The folded answer is the folded template pasted one to three times, with edits:
    character similarity (Indel, rapidfuzz) above TEMPLATE_RATIO."""
    from rapidfuzz import fuzz

    for k in (1, 2, 3):
        pasted = " ".join([template] * k)
        shorter, longer = sorted((len(answer), len(pasted)))
        if longer and 2 * shorter / (shorter + longer) <= TEMPLATE_RATIO:
            continue  # the lengths alone rule it out
        if fuzz.ratio(answer, pasted, score_cutoff=100 * TEMPLATE_RATIO):
            return True
    return False


def filler_problem(text: str | None, templates: Iterable[str] = ()) -> str:
    """Why this answer is filler, for the student's feedback and the TA's flags; "" if not.

    "no answer", "still the placeholder text", "a copy of the question or the template",
    "lorem ipsum (dummy text)", "the same text repeated".
    """
    if not text or not text.strip() or not words(text):
        return "no answer"
    templates = [t for t in templates if t and t.strip()]
    answer = _not_placeholder(text)
    if not answer:
        return "still the placeholder text"
    fresh = _fresh(answer, templates)
    if len(fresh) <= (1 - TEMPLATE_SHARE) * len(answer):
        return "a copy of the question or the template"
    joined = " ".join(answer)
    if any(_like_template(joined, normalised(t)) for t in templates):
        return "a copy of the question or the template"
    if sum(w in LOREM for w in fresh) >= LOREM_SHARE * len(fresh):
        return "lorem ipsum (dummy text)"
    if len(fresh) >= 8:
        distinct = len(set(fresh)) / len(fresh)
        raw = " ".join(fresh).encode()
        compressed = len(zlib.compress(raw, 9)) / len(raw)
        if distinct < MIN_DISTINCT_SHARE or (len(raw) > 200 and compressed < MIN_COMPRESSED_SHARE):
            return "the same text repeated"
    vocabulary = {w for t in templates for w in words(t)}
    if vocabulary and sum(w in vocabulary for w in fresh) >= VOCABULARY_SHARE * len(fresh):
        return "a copy of the question or the template"  # its words, shuffled
    return ""


# --- the class: identical and near-identical answers ----------------------------------------

IDENTICAL = "identical to another submission's answer, or nearly"
STORE = "similarity.json"  # in the output folder: near_pairs' results, by their input's digest
MAX_STORED = 16  # results kept there (a regrade adds one; the oldest goes)

_store: Path | None = None


@contextmanager
def stored_in(out: str | Path) -> Iterator[None]:
    """Within this block near_pairs keeps its results in OUT/similarity.json, keyed by a
    digest of its input: `commslab report` and `review import`, which do not change any
    answer, read them back instead of comparing again."""
    global _store
    previous, _store = _store, Path(out) / STORE
    try:
        yield
    finally:
        _store = previous


def input_digest(texts: dict[str, list[str]], threshold: float, kind: str = "written") -> str:
    h = hashlib.sha256(f"{kind}|{threshold}|{SHINGLE}|{NUM_PERM}|{LSH_THRESHOLD}".encode())
    for key in sorted(texts):
        h.update(b"\0" + key.encode() + b"\1" + "\2".join(texts[key]).encode())
    return h.hexdigest()


def _load_store() -> dict:
    if _store is None or not _store.exists():
        return {}
    try:
        data = json.loads(_store.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def remembered(digest: str, compute):
    """compute() once per digest within `stored_in` (its JSON-able result is kept in
    OUT/similarity.json, the last MAX_STORED results); outside, just compute()."""
    store = _load_store()
    if digest in store:
        return store[digest]
    value = compute()
    if _store is not None:
        store.pop(digest, None)
        store[digest] = value
        while len(store) > MAX_STORED:
            store.pop(next(iter(store)))
        _store.parent.mkdir(parents=True, exist_ok=True)
        _store.write_text(json.dumps(store), encoding="utf-8")
    return value


def near_pairs(
    texts: dict[str, list[str]], threshold: float = NEAR_RATIO
) -> list[tuple[str, str, float]]:
    """(a, b, similarity) for every two keys whose word sequences are at least `threshold`
    similar (Indel similarity: 2·LCS / (len a + len b), what difflib's ratio approximates).
    Candidates from MinHash LSH over word pairs; sequences shorter than MIN_NEAR_WORDS are
    left out. Stored and reused within `stored_in`."""
    texts = {k: v for k, v in texts.items() if len(v) >= MIN_NEAR_WORDS}
    pairs = remembered(input_digest(texts, threshold), lambda: _compare(texts, threshold))
    return [(a, b, float(score)) for a, b, score in pairs]


def _compare(texts: dict[str, list[str]], threshold: float) -> list[tuple[str, str, float]]:
    from datasketch import MinHash, MinHashLSH
    from rapidfuzz.distance import Indel

    if len(texts) < 2:
        return []
    keys = sorted(texts)
    pairs = (zip(texts[k], texts[k][1:], strict=False) for k in keys)
    shingles = [{f"{a} {b}".encode() for a, b in words_of} for words_of in pairs]
    # CRC-32 of each shingle (deterministic, in C): datasketch's default SHA-1 costs a third
    # of the time and its spread is not needed for 32-bit MinHash values
    hashes = MinHash.bulk(shingles, num_perm=NUM_PERM, hashfunc=zlib.crc32)
    lsh = MinHashLSH(threshold=LSH_THRESHOLD, num_perm=NUM_PERM)
    for key, minhash in zip(keys, hashes, strict=True):
        lsh.insert(key, minhash)
    found = []
    for key, minhash in zip(keys, hashes, strict=True):
        for other in lsh.query(minhash):
            if other <= key:
                continue
            a, b = texts[key], texts[other]
            if 2 * min(len(a), len(b)) / (len(a) + len(b)) < threshold:
                continue  # the lengths alone rule it out
            score = Indel.normalized_similarity(a, b, score_cutoff=threshold)
            if score >= threshold:
                found.append((key, other, round(score, 3)))
    return sorted(found)


def class_flags(rows: list[tuple[str, dict[str, str]]]) -> list[dict[str, list[str]]]:
    """Answers shared by two or more students, word for word or nearly (NEAR_RATIO).

    rows: (student id, {grade_id: text}) per submission. Returns, per row, {grade_id: the
    other students' ids} for every answer whose folded text another student also handed in,
    or one near-identical to it (the same student's other files do not count; empty answers
    and the placeholder are filler already and are not "shared").
    """
    flags: list[dict[str, set[str]]] = [defaultdict(set) for _ in rows]
    for grade_id in sorted({g for _, texts in rows for g in texts}):
        own = {
            str(i): _not_placeholder(texts.get(grade_id) or "") for i, (_, texts) in enumerate(rows)
        }
        own = {i: v for i, v in own.items() if v}
        by_text: dict[str, list[int]] = defaultdict(list)
        for i, v in own.items():
            by_text[" ".join(v)].append(int(i))
        pairs = [(a, b) for same in by_text.values() for a in same for b in same if a < b]
        pairs += [(int(a), int(b)) for a, b, _ in near_pairs(own)]
        for a, b in pairs:
            if rows[a][0] != rows[b][0]:
                flags[a][grade_id].add(rows[b][0])
                flags[b][grade_id].add(rows[a][0])
    return [{g: sorted(others) for g, others in mine.items()} for mine in flags]
