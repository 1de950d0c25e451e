"""Secret values masked out of output lines before anyone stores or shows them.

A value is masked as printed raw and, when it is at least ENCODED_MIN_LENGTH bytes long (in
UTF-8), in the encodings programs print secrets in:
- base64, standard and URL-safe alphabets, with or without padding: the value encoded alone,
  whole; inside a longer encoded stream (`user:secret`, a JSON document...), starting at any
  byte of it, the characters that depend on the value's bytes alone, for each of the three
  alignments (the one character at each end that mixes its bits with its neighbours' stays);
- hex, lower or upper case;
- percent-encoding as Python's quote and quote_plus and JavaScript's encodeURIComponent and
  encodeURI write it, with upper- or lower-case hex digits.
Shorter values are masked raw only: their encoded forms are short enough to turn up in ordinary
output by chance.

Every form of every value goes into one regular expression, a trie of the literals (one branch
per next character, longest match first), so a line is scanned once whatever the number of
secrets; bench/masking.py measures it.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from typing import TypeAlias
from urllib.parse import quote_from_bytes

_Trie: TypeAlias = dict[str, "_Trie"]  # char -> the rest; the key "" marks the end of a word

MASK = "****"
# Shorter values would mask ordinary words all over the output and say more than they hide.
MIN_LENGTH = 4
ENCODED_MIN_LENGTH = 6
# For k = 0, 1, 2 bytes before the value: how many leading characters of the base64 hold bits
# of those bytes (the rest, up to the last character holding the value's bits alone, is stable).
_B64_SKIP = (0, 2, 3)
_URL_SAFE = str.maketrans("+/", "-_")
_PERCENT = re.compile(r"%[0-9A-F]{2}")
# Left as they are by: quote (and quote_plus, which also writes a space as +), JavaScript's
# encodeURIComponent, its encodeURI.
_QUOTE_SAFE = ("", "/", "!'()*", "!'()*;,/?:@&=+$#")


def encoded_forms(value: str) -> set[str]:
    """The base64, hex and URL-encoded forms of value masked along with it (none if short)."""
    data = value.encode("utf-8", "surrogateescape")
    if len(data) < ENCODED_MIN_LENGTH:
        return set()
    forms = {data.hex(), data.hex().upper()}
    whole = base64.b64encode(data).decode("ascii")  # the value alone: masked to its last bit
    for encoded in (whole, whole.rstrip("=")):
        forms |= {encoded, encoded.translate(_URL_SAFE)}
    for offset, skip in enumerate(_B64_SKIP):
        encoded = base64.b64encode(bytes(offset) + data).decode("ascii")
        stable = encoded[skip : 8 * (offset + len(data)) // 6]
        forms |= {stable, stable.translate(_URL_SAFE)}
    quoted = {quote_from_bytes(data, safe=safe) for safe in _QUOTE_SAFE}
    quoted.add(quote_from_bytes(data, safe=" ").replace(" ", "+"))  # quote_plus
    for form in quoted:
        forms |= {form, _PERCENT.sub(lambda m: m.group().lower(), form)}
    forms.discard(value)
    return forms


class Masker:
    """Replaces every known secret value in a text, in any of its forms, with ****."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._values: set[str] = set()
        self._needles: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self.add(values)

    def add(self, values: Iterable[str]) -> None:
        """Mask these values too (and each line of a multi-line one: output comes by lines)."""
        before = len(self._needles)
        for value in set(values) - self._values:
            self._values.add(value)
            for part in {value, *(line.strip("\r") for line in value.split("\n"))}:
                if len(part) >= MIN_LENGTH:
                    self._needles |= {part, *encoded_forms(part)}
        if len(self._needles) != before:
            self._pattern = compile_literals(self._needles)

    def __call__(self, text: str) -> str:
        return text if self._pattern is None else self._pattern.sub(MASK, text)


def compile_literals(words: Iterable[str]) -> re.Pattern[str]:
    """One regex matching any of words, the longest one where several start at a place."""
    words = set(words)
    trie: _Trie = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}
    try:
        return re.compile(_trie_regex(trie))
    except RecursionError:  # words nested deeper than the regex parser goes: plain alternation
        ordered = sorted(words, key=lambda w: (-len(w), w))
        return re.compile("|".join(re.escape(w) for w in ordered))


def _trie_regex(node: _Trie) -> str:
    chain = ""
    while "" not in node and len(node) == 1:  # a run without a branch is one literal
        [(char, node)] = node.items()
        chain += re.escape(char)
    branches = [re.escape(char) + _trie_regex(child) for char, child in node.items() if char]
    if not branches:
        return chain
    body = branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"
    # Where a word ends and longer ones go on, the longer ones are tried first (greedy `?`).
    return chain + (f"(?:{body})?" if "" in node else body)
