"""A secret value is masked out of output however it was printed: raw, base64, hex, URL-encoded."""

from __future__ import annotations

import base64
import json
import math
import random
import re
from urllib.parse import quote, quote_plus

import pytest

from skyforge.kernel.masking import ENCODED_MIN_LENGTH, MASK, Masker

SECRET = "p@ss w/rd+Ü&=9f2c~*"
TOKEN = "ghp_4f9KzQ7xT2mW8vR1nB6yL3cD5sA0eH"


def b64_forms(data: bytes) -> list[str]:
    std = base64.b64encode(data).decode()
    return [std, std.rstrip("="), base64.urlsafe_b64encode(data).decode().rstrip("=")]


@pytest.mark.parametrize("value", [SECRET, TOKEN, "abcdef", "ünïcødé-secret"])
@pytest.mark.parametrize("before", [b"", b"x", b"xy", b"xyz", b"Basic user:", b'{"token": "'])
def test_a_value_inside_a_longer_base64_stream_is_masked_at_any_alignment(
    value: str, before: bytes
) -> None:
    mask = Masker([value])
    data = value.encode()
    for after in (b"", b"!", b'", "n": 1}', b"\n-- end of the stream --"):
        for printed in b64_forms(before + data + after):
            masked = mask(f"payload={printed};")
            assert masked.count(MASK) == 1, (before, after, printed)
            head, tail = masked.removeprefix("payload=").removesuffix(";").split(MASK)
            # At most the one character mixing the secret's bits with its neighbours' stays.
            assert len(head) <= math.ceil(8 * len(before) / 6)
            assert len(tail) <= len(printed) - 8 * (len(before) + len(data)) // 6


def test_every_encoding_of_a_secret_is_masked() -> None:
    mask = Masker([SECRET])
    data = SECRET.encode()
    forms = {
        "raw": SECRET,
        "hex": data.hex(),
        "HEX": data.hex().upper(),
        "quote": quote(SECRET),
        "quote safe=''": quote(SECRET, safe=""),
        "quote_plus": quote_plus(SECRET),
        "encodeURIComponent": quote(SECRET, safe="!'()*"),
        "encodeURI": quote(SECRET, safe="!'()*;,/?:@&=+$#"),
        "base64": base64.b64encode(data).decode(),
        "base64url": base64.urlsafe_b64encode(data).decode(),
    }
    for name, printed in forms.items():
        assert mask(f"value: {printed} (end)") == f"value: {MASK} (end)", name


def test_percent_encoding_is_recognised_in_lower_case_hex() -> None:
    mask = Masker([SECRET])
    for encoded in (quote(SECRET, safe=""), quote_plus(SECRET)):
        lowered = re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), encoded)
        assert "%c3%9c" in lowered
        assert mask(f"[{lowered}]") == f"[{MASK}]"


def test_a_value_in_a_url_query_or_basic_auth_header_is_masked() -> None:
    mask = Masker([SECRET, TOKEN])
    url = f"https://api.example.com/v1?key={quote_plus(SECRET)}&user=sam"
    assert mask(url) == f"https://api.example.com/v1?key={MASK}&user=sam"
    credentials = base64.b64encode(f"sam:{TOKEN}".encode()).decode()
    masked = mask(f"Authorization: Basic {credentials}").removeprefix("Authorization: Basic ")
    assert MASK in masked and len(masked) <= len(MASK) + 8  # "sam:" and the padding remain
    blob = base64.b64encode(json.dumps({"auth": TOKEN, "n": 1}).encode()).decode()
    assert MASK in mask(blob)


def test_short_values_are_masked_raw_only() -> None:
    short = "abc12"  # one byte under ENCODED_MIN_LENGTH
    assert len(short.encode()) == ENCODED_MIN_LENGTH - 1
    mask = Masker([short])
    encoded = [short.encode().hex(), base64.b64encode(short.encode()).decode()]
    assert mask(f"{short} {' '.join(encoded)}") == f"{MASK} {' '.join(encoded)}"


def test_ordinary_output_is_left_alone() -> None:
    rng = random.Random(7)
    secrets = [
        "".join(rng.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=24)) for _ in range(20)
    ]
    mask = Masker(secrets)
    lines = [
        "GET /api/v1/items?page=2&sort=name 200 4.2ms",
        "commit 3f2a9c1b7e4d5a6f8091b2c3d4e5f60718293a4b",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzYW0ifQ.c2lnbmF0dXJl",
        base64.b64encode(bytes(range(256))).decode(),
        "Installing collected packages: flask, gunicorn, werkzeug",
    ]
    for line in lines:
        assert mask(line) == line


def test_each_line_of_a_multi_line_value_is_masked_in_every_encoding() -> None:
    pem = "-----BEGIN KEY-----\nAAAABBBBCCCCdddd\nEEEEFFFFGGGGhhhh\n-----END KEY-----"
    mask = Masker([pem])
    for line in ("AAAABBBBCCCCdddd", "EEEEFFFFGGGGhhhh"):
        assert mask(line) == MASK
        assert mask(line.encode().hex()) == MASK
        assert MASK in mask(base64.b64encode(b"k=" + line.encode()).decode())


def test_a_value_longer_than_the_regex_parser_nests_is_masked() -> None:
    rng = random.Random(3)
    huge = "".join(rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZ", k=20_000))
    mask = Masker([huge, huge[:-1], huge[:5000] + "x"])
    assert mask(f"<{huge}>") == f"<{MASK}>"
    assert mask(huge.encode().hex()) == MASK


def test_values_added_later_are_masked_in_every_encoding_too() -> None:
    mask = Masker([TOKEN])
    assert mask(SECRET.encode().hex()) == SECRET.encode().hex()
    mask.add([SECRET])
    assert mask(f"{TOKEN.encode().hex()} {SECRET.encode().hex()}") == f"{MASK} {MASK}"
