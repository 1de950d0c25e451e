"""Custom hostnames: what a user may attach to a service, in one canonical ASCII spelling.

Internationalized names follow IDNA 2008 with the UTS #46 mapping (the `idna` package; the
standard library's codec is IDNA 2003, which maps `ß` to `ss` and allows symbols 2008 forbids).

Lookalike rule (a subset of UTS #39, per label, as browsers apply it): a label's letters and
digits must come from one script, or from one of the CJK combinations Latin+Han+Hiragana+
Katakana, Latin+Han+Bopomofo, Latin+Han+Hangul. A character's script is the first word of its
Unicode name (LATIN, CYRILLIC, GREEK, CJK...), which approximates the Unicode Script property
that the standard library lacks. Also refused: a Cyrillic or Greek label spelled only with
letters that look Latin (`apple` in Cyrillic letters) under an ASCII top-level label.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Iterable

import idna

from skyforge.kernel.errors import Invalid

# Always the local machine (RFC 6761), whatever the platform's own suffixes are.
RESERVED_SUFFIXES = ("localhost",)
MAX_NAME = 253
_MAX_INPUT = 1024  # longer input is refused before any Unicode processing
_LDH = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
# The last label of a name that URL parsers (WHATWG) read as an IPv4 address: 127.1, 0x7f.1
_NUMERIC = re.compile(r"^(?:[0-9]+|0x[0-9a-f]*)$")
_URL_PARTS = (
    ("://", "a URL: give the hostname only"),
    ("@", "a hostname: no user name"),
    ("/", "a hostname: no path"),
    ("?", "a hostname: no query"),
    ("#", "a hostname: no fragment"),
    ("\\", "a hostname"),
    (":", "a hostname: no port"),
    ("[", "a hostname"),
    ("%", "a hostname: no percent-encoding"),
)
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


def normalize_hostname(
    value: str, *, platform_suffixes: Iterable[str], allow_wildcard: bool = False
) -> str:
    """The canonical ASCII form of a custom hostname, else raise Invalid saying why."""
    text = _plain_text(value)
    shown = repr(text if len(text) <= 80 else text[:77] + "...")
    _refuse_address(text.strip("[]").removesuffix("."), shown)
    for part, what in _URL_PARTS:
        if part in text:
            raise Invalid(f"{shown} is not {what}")
    wildcard = text.startswith("*.")
    if wildcard and not allow_wildcard:
        raise Invalid(f"{shown}: wildcard hostnames are not allowed here")
    name = _to_ascii(text[2:] if wildcard else text, shown)
    _refuse_address(name, shown)
    labels = name.split(".")
    if len(labels) < 2:
        raise Invalid(f"{shown} is a single label: give a fully qualified name (shop.example.com)")
    if _NUMERIC.fullmatch(labels[-1]):
        raise Invalid(f"{shown}: the last label must not be numeric (it reads as an IP address)")
    for label in labels:
        # idna checked these already; kept so no path can ever return anything else.
        if not _LDH.fullmatch(label) or (label[2:4] == "--" and not label.startswith("xn--")):
            raise Invalid(f"{shown} has an invalid label {label!r}")
    _refuse_lookalikes(idna.decode(name).split("."), shown)
    for suffix in (*RESERVED_SUFFIXES, *map(_suffix, platform_suffixes)):
        if name == suffix or name.endswith("." + suffix):
            raise Invalid(f"{shown} is under {suffix!r}, which the platform itself serves")
    return f"*.{name}" if wildcard else name


def _plain_text(value: object) -> str:
    if not isinstance(value, str):
        raise Invalid("a hostname must be a string")
    if len(value) > _MAX_INPUT:
        raise Invalid(f"a hostname has at most {MAX_NAME} characters")
    text = value.strip()
    if not text:
        raise Invalid("the hostname is empty")
    if any(char.isspace() or unicodedata.category(char) == "Cc" for char in text):
        raise Invalid(f"{text[:80]!r} is not a hostname: no spaces or control characters")
    return text


def _to_ascii(text: str, shown: str) -> str:
    """UTS #46 mapping (case, width, ideographic full stops), then IDNA 2008 to A-labels."""
    if "*" in text:
        raise Invalid(f"{shown}: '*' may only stand alone as the first label (*.example.com)")
    try:
        mapped = idna.uts46_remap(text, std3_rules=True, transitional=False)
        name = mapped.removesuffix(".")  # the root's dot, once: "a.com." is "a.com"
        if not name or name.startswith(".") or ".." in name or name.endswith("."):
            raise Invalid(f"{shown} has an empty label")
        encoded = idna.encode(name, uts46=False).decode("ascii")
    except idna.IDNAError as error:
        raise Invalid(f"{shown} is not a valid hostname: {error}") from None
    if len(encoded) > MAX_NAME:
        raise Invalid(f"{shown} is longer than {MAX_NAME} characters once encoded")
    return encoded


def _refuse_address(text: str, shown: str) -> None:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return
    raise Invalid(f"{shown} is an IP address: custom domains must be hostnames")


def _refuse_lookalikes(labels: list[str], shown: str) -> None:
    ascii_tld = labels[-1].isascii()
    for label in labels:
        scripts = {_script(char) for char in label if _counts(char)}
        if len(scripts) > 1 and not any(scripts <= mix for mix in _CJK_MIXES):
            names = ", ".join(sorted(scripts))
            raise Invalid(f"{shown} mixes scripts in one label ({names}): it could imitate another")
        script = scripts.pop() if len(scripts) == 1 else "LATIN"
        lookalikes = _LATIN_LOOKALIKES.get(script, frozenset())
        letters = {char for char in label if char.isalpha()}
        if ascii_tld and letters and letters <= lookalikes:
            raise Invalid(f"{shown} is spelled in {script} letters that look Latin")


def _counts(char: str) -> bool:
    """Letters and digits have a script; ASCII digits, '-' and combining marks have none."""
    return char.isalpha() if char.isascii() else unicodedata.category(char)[0] in "LN"


def _script(char: str) -> str:
    if char.isascii():
        return "LATIN"
    # EXTENDED ARABIC-INDIC DIGIT ONE is an Arabic digit (Persian, Urdu).
    word = unicodedata.name(char, "UNKNOWN").removeprefix("EXTENDED ").split(" ")[0]
    return _SCRIPT_ALIASES.get(word, word)


def _suffix(value: str) -> str:
    """A platform suffix in the form names are compared in (trusted configuration)."""
    suffix = value.strip().strip(".").lower()
    return suffix if suffix.isascii() else idna.encode(suffix, uts46=True).decode("ascii")
