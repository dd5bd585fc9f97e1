"""The local risk detector: multilingual (en, es, ca, it) screening of notes and form answers.

:func:`detect_risk` returns a :class:`RiskAssessment`: a level (LOW, MEDIUM, HIGH), the flags
found (SUICIDAL_IDEATION, SELF_HARM, HARM_TO_OTHERS, ABUSE, SUBSTANCE, EATING_DISORDER, CRISIS)
and the evidence spans that raised them, as ``[start, end)`` character offsets into the
**original** text (``text[start:end] == span.text``).

How it works:

1. **Normalization with an offset map.** Each original character is normalized on its own
   (NFKC, casefold, NFKD, combining marks dropped; typographic apostrophes made ``'``), and each
   normalized character remembers the original index it came from. "Mórir", "MORIR" and
   "mori\\u0301r" all read ``morir``; a span found in the normalized text maps back exactly.
2. **Tokens and clauses.** Words are split at anything that is not a letter or digit (so
   ``matar-me`` → ``matar`` ``me``, ``l'ho`` → ``l`` ``ho``; English ``n't`` becomes ``not``).
   ``. , ; ! ? ( ) newline`` and the words "but/pero/però/ma" end a clause.
3. **Lexicons** (:mod:`anima.ai.lexicons`, data) of every supported language are matched,
   whatever the language: bilingual notes (Catalan and Spanish in one paragraph) are common and
   missing a risk because of a wrong language guess is the worse failure.
4. **Negation.** A match is *negated* when a negation cue (not, no, never, nunca, mai, non,
   sense, senza, denies, niega …) stands within :data:`NEGATION_WINDOW` tokens before it in the
   same clause with no scope breaker in between ("I can't **stop** thinking about killing myself",
   "I don't know **why** I want to die" stay positive), or a post-negation ("suicidal ideation:
   none/negative/denied") follows within :data:`POST_WINDOW` tokens. Negated matches are reported
   apart (``negated``) and do not raise the level.
5. **Level.** HIGH if any un-negated match is of ``high`` severity, MEDIUM if any is ``medium``,
   LOW otherwise.

Not handled (known limits): negation further than the window or across a comma ("no, I want to
die" reads as positive: the comma ends the clause, which errs on the side of flagging); irony,
hypotheticals, reported speech and third persons ("her brother killed himself" is flagged);
spelling mistakes and slang beyond the lexicon; languages other than the four (their text is
still scanned with the four lexicons, and the result says which language was assumed).

Input is limited to :data:`MAX_TEXT_BYTES` bytes of UTF-8; longer input raises
:class:`TextTooLong`. The detector never logs the text or the evidence.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from anima.ai import lexicons as lx

MAX_TEXT_BYTES = 100 * 1024
NEGATION_WINDOW = 4
POST_WINDOW = 2

Level = Literal["LOW", "MEDIUM", "HIGH"]
LEVELS: tuple[Level, ...] = ("LOW", "MEDIUM", "HIGH")

_APOSTROPHES = dict.fromkeys(map(ord, "\u2019\u2018\u02bc\u02b9\u0060\u00b4\u2032\uff07"), "'")
_TOKEN = re.compile(r"[^\W_]+|[.,;!?()\[\]\n\r\u2026]")
_BREAK_CHARS = frozenset(".,;!?()[]\n\r\u2026")


class TextTooLong(ValueError):
    """The text exceeds :data:`MAX_TEXT_BYTES` bytes of UTF-8; ``size`` holds its size in bytes."""

    def __init__(self, size: int) -> None:
        self.size = size
        super().__init__(f"the text is {size} bytes of UTF-8; the risk detector reads at most {MAX_TEXT_BYTES}")


@dataclass(frozen=True, slots=True)
class Evidence:
    """One span of the original text that raised ``flag``: ``text == original[start:end]``."""

    start: int
    end: int
    text: str
    flag: str
    severity: str
    negated: bool = False


@dataclass(frozen=True, slots=True)
class RiskAssessment:
    """The detector's answer.

    ``level``: LOW, MEDIUM or HIGH; ``flags``: sorted distinct flags of un-negated evidence;
    ``evidence``: un-negated spans in text order; ``negated``: spans that matched but were negated;
    ``language``: the language given or detected (en, es, ca, it); ``language_detected``: whether it
    was detected rather than given.
    """

    level: Level
    flags: tuple[str, ...]
    evidence: tuple[Evidence, ...]
    negated: tuple[Evidence, ...]
    language: str
    language_detected: bool

    def summary(self) -> dict[str, object]:
        """The assessment without any text of the note: level, flags, counts, language, offsets."""
        return {
            "level": self.level,
            "flags": list(self.flags),
            "evidence": [{"start": e.start, "end": e.end, "flag": e.flag, "severity": e.severity} for e in self.evidence],
            "negated_count": len(self.negated),
            "language": self.language,
            "language_detected": self.language_detected,
        }


# -- normalization ---------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    """One non-ASCII character folded (casefold, accents dropped); cached: texts reuse few characters."""
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", ch).casefold()).translate(_APOSTROPHES)
    return "".join(c for c in folded if not unicodedata.combining(c))


class _Folding(dict):
    """``str.translate`` table folding every character as :func:`normalize_with_map` does, filled
    on first sight of each character (a text reuses few)."""

    def __missing__(self, code: int) -> str:
        ch = chr(code)
        folded = (ch.lower() if ch != "`" else "'") if ch.isascii() else _fold_char(ch)
        if len(self) < 65_536:
            self[code] = folded
        return folded


_FOLD = _Folding()


def normalize_with_map(text: str) -> tuple[str, list[int]]:
    """``(normalized, origin)``: the folded text and, per normalized character, its original index."""
    if text.isascii():  # fast path: one character in, one out
        return text.lower().replace("`", "'"), list(range(len(text)))
    folded_text = text.translate(_FOLD)
    if len(folded_text) == len(text) and all(len(_FOLD[ord(ch)]) == 1 for ch in set(text)):
        return folded_text, list(range(len(text)))  # the usual case (accents dropped): one out per one in
    parts: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        if ch.isascii():
            folded = ch.lower() if ch != "`" else "'"
        else:
            folded = _fold_char(ch)
        if folded:
            parts.append(folded)
            origin.extend([i] * len(folded))
    return "".join(parts), origin


def normalize(text: str) -> str:
    """The folded form of ``text`` (see module docstring), without the offset map."""
    return normalize_with_map(text)[0]


# -- tokens ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Token:
    word: str
    start: int  # offsets into the normalized text
    end: int
    clause: int


def _tokens(norm: str) -> list[_Token]:
    out: list[_Token] = []
    clause = 0
    for m in _TOKEN.finditer(norm):
        word = m.group()
        if word in _BREAK_CHARS:
            clause += 1
            continue
        if word in lx.CLAUSE_BREAKERS:
            clause += 1
            continue
        start, end = m.start(), m.end()
        # English contraction: "don't" arrives as "don" + "t" -> "do" "not"
        if word == "t" and out and out[-1].word.endswith("n") and norm[start - 1 : start] == "'":
            prev = out.pop()
            out.append(_Token(prev.word[:-1], prev.start, prev.end - 1, prev.clause))
            out.append(_Token("not", prev.end - 1, end, clause))
            continue
        out.append(_Token(word, start, end, clause))
    return out


# -- lexicons compiled -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Pattern:
    parts: tuple[str, ...]  # "word", "prefix*" or "…"
    flag: str
    severity: str
    language: str


def _pattern_parts(pattern: str) -> tuple[str, ...]:
    parts: list[str] = []
    for raw in pattern.split():
        if raw == "…":
            parts.append("…")
            continue
        prefix = raw.endswith("*")
        words = [t.word for t in _tokens(normalize(raw.rstrip("*")))]
        if not words:
            continue
        if prefix:
            words[-1] += "*"
        parts.extend(words)
    return tuple(parts)


@dataclass(frozen=True)
class _Compiled:
    exact: dict[str, tuple[_Pattern, ...]]
    prefix: dict[str, tuple[_Pattern, ...]]
    prefix_lengths: tuple[int, ...]
    negations: dict[str, frozenset[str]]
    post_negations: dict[str, frozenset[str]]
    breakers: dict[str, frozenset[str]]
    stopwords: dict[str, frozenset[str]]


def _norm_set(words: Iterable[str]) -> frozenset[str]:
    out: set[str] = set()
    for w in words:
        out.update(t.word for t in _tokens(normalize(w)))
    return frozenset(out)


@lru_cache(maxsize=1)
def _compiled() -> _Compiled:
    exact: dict[str, list[_Pattern]] = {}
    prefix: dict[str, list[_Pattern]] = {}
    for language, entries in lx.LEXICONS.items():
        for pattern, flag, severity in entries:
            parts = _pattern_parts(pattern)
            if not parts or parts[0] == "…" or parts[-1] == "…":
                raise ValueError(f"lexicon pattern {pattern!r} ({language}) may not start or end with a gap")
            compiled = _Pattern(parts, flag, severity, language)
            head = parts[0]
            if head.endswith("*"):
                prefix.setdefault(head[:-1], []).append(compiled)
            else:
                exact.setdefault(head, []).append(compiled)
    return _Compiled(
        exact={k: tuple(v) for k, v in exact.items()},
        prefix={k: tuple(v) for k, v in prefix.items()},
        prefix_lengths=tuple(sorted({len(k) for k in prefix})),
        negations={k: _norm_set(v) for k, v in lx.NEGATIONS.items()},
        post_negations={k: _norm_set(v) for k, v in lx.POST_NEGATIONS.items()},
        breakers={k: _norm_set(v) for k, v in lx.SCOPE_BREAKERS.items()},
        stopwords={k: _norm_set(v) for k, v in lx.STOPWORDS.items()},
    )


def _part_matches(part: str, word: str) -> bool:
    if part.endswith("*"):
        return word.startswith(part[:-1])
    return word == part


def _match_from(parts: tuple[str, ...], tokens: list[_Token], i: int) -> int | None:
    """Index one past the last token of a match of ``parts`` starting at token ``i``, or None."""
    if i >= len(tokens) or not _part_matches(parts[0], tokens[i].word):
        return None
    if len(parts) == 1:
        return i + 1
    if parts[1] == "…":
        for skip in range(0, lx.GAP_TOKENS + 1):
            j = i + 1 + skip
            if j < len(tokens) and tokens[j].clause == tokens[i].clause:
                end = _match_from(parts[2:], tokens, j)
                if end is not None:
                    return end
        return None
    j = i + 1
    if j >= len(tokens) or tokens[j].clause != tokens[i].clause:
        return None
    return _match_from(parts[1:], tokens, j)


# -- language --------------------------------------------------------------------------------------


def _language_hint(language: str | None) -> str | None:
    if not language or not isinstance(language, str):
        return None
    primary = language.strip().replace("_", "-").split("-")[0].lower()
    return primary if primary in lx.LANGUAGES else None


def detect_language(text: str) -> str:
    """The most likely of en, es, ca, it by a stopword vote (a word shared by k languages gives each
    1/k); ties and texts without stopwords fall back to the order en, es, ca, it."""
    return _vote([t.word for t in _tokens(normalize(text))])


def _vote(words: list[str]) -> str:
    stop = _compiled().stopwords
    scores = dict.fromkeys(lx.LANGUAGES, 0.0)
    for w in words:
        owners = [lang for lang in lx.LANGUAGES if w in stop[lang]]
        for lang in owners:
            scores[lang] += 1 / len(owners)
    return max(lx.LANGUAGES, key=lambda lang: (scores[lang], -lx.LANGUAGES.index(lang)))


# -- detection -------------------------------------------------------------------------------------


@lru_cache(maxsize=32)
def _cue_sets(languages: tuple[str, ...]) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    c = _compiled()
    return (
        frozenset().union(*(c.negations[lang] for lang in languages)),
        frozenset().union(*(c.post_negations[lang] for lang in languages)),
        frozenset().union(*(c.breakers[lang] for lang in languages)),
    )


def _negated(tokens: list[_Token], start: int, end: int, languages: tuple[str, ...]) -> bool:
    cues, post, breakers = _cue_sets(languages)
    clause = tokens[start].clause
    for k in range(start - 1, max(-1, start - 1 - NEGATION_WINDOW), -1):
        tok = tokens[k]
        if tok.clause != clause or tok.word in breakers:
            break
        if tok.word in cues:
            return True
    last_clause = tokens[end - 1].clause
    for k in range(end, min(len(tokens), end + POST_WINDOW)):
        if tokens[k].word in post and tokens[k].clause in (last_clause, last_clause + 1):
            # "suicidal ideation: none" — a colon does not end a clause, a comma may sit before it
            return True
    return False


def _candidates(word: str) -> Iterable[_Pattern]:
    c = _compiled()
    yield from c.exact.get(word, ())
    for n in c.prefix_lengths:
        if n > len(word):
            break
        yield from c.prefix.get(word[:n], ())


def detect_risk(text: str, language: str | None = None) -> RiskAssessment:
    """Screen ``text`` for risk (see the module docstring for the method and its limits).

    Args:
        text: a note's plain text or form answers, at most :data:`MAX_TEXT_BYTES` bytes of UTF-8.
        language: a hint (``ca``, ``es-ES`` …); unsupported or absent: detected by stopword vote.

    Returns:
        RiskAssessment with evidence spans into ``text``.

    Raises:
        TypeError: ``text`` is not a str. TextTooLong: over the size limit.
    """
    if not isinstance(text, str):
        raise TypeError("detect_risk reads a str")
    if len(text) * 4 > MAX_TEXT_BYTES:  # else it cannot exceed the limit (at most 4 bytes a character)
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > MAX_TEXT_BYTES:
            raise TextTooLong(size)

    norm, origin = normalize_with_map(text)
    tokens = _tokens(norm)
    hint = _language_hint(language)
    primary = hint or _vote([t.word for t in tokens])

    found: dict[tuple[int, int, str], Evidence] = {}
    for i, tok in enumerate(tokens):
        for pattern in _candidates(tok.word):
            end = _match_from(pattern.parts, tokens, i)
            if end is None:
                continue
            languages = (primary,) if pattern.language == primary else (primary, pattern.language)
            negated = _negated(tokens, i, end, languages)
            o_start = origin[tokens[i].start]
            o_end = origin[tokens[end - 1].end - 1] + 1
            while o_end < len(text) and unicodedata.combining(text[o_end]):
                o_end += 1  # keep a decomposed accent with its letter
            key = (o_start, o_end, pattern.flag)
            previous = found.get(key)
            rank = (not negated, pattern.severity == "high")
            if previous is None or rank > (not previous.negated, previous.severity == "high"):
                found[key] = Evidence(o_start, o_end, text[o_start:o_end], pattern.flag, pattern.severity, negated)

    positive = _drop_contained([e for e in found.values() if not e.negated])
    negated_spans = _drop_contained([e for e in found.values() if e.negated])
    if any(e.severity == "high" for e in positive):
        level: Level = "HIGH"
    elif positive:
        level = "MEDIUM"
    else:
        level = "LOW"
    return RiskAssessment(
        level=level,
        flags=tuple(sorted({e.flag for e in positive})),
        evidence=tuple(positive),
        negated=tuple(negated_spans),
        language=primary,
        language_detected=hint is None,
    )


def _drop_contained(spans: list[Evidence]) -> list[Evidence]:
    """Spans in text order, without those inside a longer span of the same flag; a container takes
    the higher severity of what it swallows ("feel suicidal" keeps ``high`` over ``suicid*``)."""
    spans.sort(key=lambda e: (e.start, -(e.end - e.start)))
    kept: list[Evidence] = []
    for e in spans:
        for n, k in enumerate(kept):
            if k.flag == e.flag and k.start <= e.start and e.end <= k.end:
                if e.severity == "high" and k.severity != "high":
                    kept[n] = Evidence(k.start, k.end, k.text, k.flag, "high", k.negated)
                break
        else:
            kept.append(e)
    return kept


__all__ = ["MAX_TEXT_BYTES", "Evidence", "RiskAssessment", "TextTooLong", "detect_language", "detect_risk", "normalize"]
