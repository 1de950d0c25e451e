"""Labels that could pass for another name: one rule for custom domains and for our own names.

A subset of UTS #39, per label, as browsers apply it: a label's letters and digits must come
from one script, or from one of the CJK combinations Latin+Han+Hiragana+Katakana,
Latin+Han+Bopomofo, Latin+Han+Hangul. A character's script is the first word of its Unicode
name (LATIN, CYRILLIC, GREEK, CJK...), which approximates the Unicode Script property that the
standard library lacks. Also refused: a Cyrillic or Greek label spelled only with letters that
look Latin (`apple` in Cyrillic letters) under an ASCII top-level label.

Project and service names stand in hostnames (`web.shop.localhost`), where a browser shows an
`xn--` label decoded: `punycode_problem` applies the same rule to them.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

ACE_PREFIX = "xn--"
_CJK_MIXES = (
    frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA", "KATAKANA-HIRAGANA"}),
    frozenset({"LATIN", "HAN", "BOPOMOFO"}),
    frozenset({"LATIN", "HAN", "HANGUL"}),
)
_SCRIPT_ALIASES = {"CJK": "HAN", "IDEOGRAPHIC": "HAN", "ARABIC-INDIC": "ARABIC"}
# Letters drawn like Latin ones: a c d e h i j l o p q s w x y b e n r v w, and a i k v o p t u x c.
_LATIN_LOOKALIKES = {
    "CYRILLIC": frozenset("асԁеһіјӏорԛѕԝхуьҽпгѵѡ"),
    "GREEK": frozenset("αικνορτυχϲ"),
}
# What a decoded label of a name may hold: lower-case letters (and letters without case),
# combining marks, digits and '-'. Symbols, upper case, spaces and invisible characters may not.
_NAME_CATEGORIES = frozenset({"Ll", "Lo", "Lm", "Mn", "Mc", "Nd"})


def lookalike_problem(labels: Sequence[str]) -> str | None:
    """Why these Unicode labels (of one name, top-level last) could imitate another, or None."""
    ascii_tld = not labels or labels[-1].isascii()
    for label in labels:
        scripts = {_script(char) for char in label if _counts(char)}
        if len(scripts) > 1 and not any(scripts <= mix for mix in _CJK_MIXES):
            names = ", ".join(sorted(scripts))
            return f"mixes scripts in one label ({names}): it could imitate another"
        script = scripts.pop() if len(scripts) == 1 else "LATIN"
        lookalikes = _LATIN_LOOKALIKES.get(script, frozenset())
        letters = {char for char in label if char.isalpha()}
        if ascii_tld and letters and letters <= lookalikes:
            return f"is spelled in {script} letters that look Latin"
    return None


def punycode_problem(label: str) -> str | None:
    """For an ASCII label that browsers would show decoded (`xn--...`): why it may not be a
    name, or None when it decodes to a well-formed Unicode label of one script."""
    if not label.startswith(ACE_PREFIX):
        return None
    try:
        decoded = label[len(ACE_PREFIX) :].encode("ascii").decode("punycode")
    except UnicodeError:
        return "starts with 'xn--' but is not punycode"
    if decoded.isascii() or decoded.encode("punycode").decode("ascii") != label[4:]:
        return "starts with 'xn--' but is not the canonical punycode of a Unicode name"
    bad = [c for c in decoded if c != "-" and unicodedata.category(c) not in _NAME_CATEGORIES]
    if bad or not unicodedata.is_normalized("NFC", decoded):
        return "decodes to characters a name may not hold (symbols, capitals, invisible ones)"
    problem = lookalike_problem([decoded, "localhost"])
    return None if problem is None else f"decodes to {decoded!r}, which {problem}"


def _counts(char: str) -> bool:
    """Letters and digits have a script; ASCII digits, '-' and combining marks have none."""
    return char.isalpha() if char.isascii() else unicodedata.category(char)[0] in "LN"


def _script(char: str) -> str:
    if char.isascii():
        return "LATIN"
    # EXTENDED ARABIC-INDIC DIGIT ONE is an Arabic digit (Persian, Urdu).
    word = unicodedata.name(char, "UNKNOWN").removeprefix("EXTENDED ").split(" ")[0]
    return _SCRIPT_ALIASES.get(word, word)
