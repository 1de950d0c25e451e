"""Custom hostnames: hostile input is refused, good names come out in one ASCII spelling."""

import pytest

from skyforge.domains.hostnames import normalize_hostname
from skyforge.kernel.errors import Invalid

PLATFORM = ("skyforge.example",)


def fullwidth(text: str) -> str:
    """The full-width forms of ASCII text, as typed with some East Asian input methods."""
    return "".join(chr(ord(char) + 0xFEE0) for char in text)


def normalize(value: str, *, allow_wildcard: bool = False) -> str:
    return normalize_hostname(value, platform_suffixes=PLATFORM, allow_wildcard=allow_wildcard)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("shop.example.com", "shop.example.com"),
        ("Shop.Example.COM", "shop.example.com"),
        ("shop.example.com.", "shop.example.com"),  # the root's dot
        ("  shop.example.com ", "shop.example.com"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("BÜCHER.example", "xn--bcher-kva.example"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("faß.de", "xn--fa-hia.de"),  # IDNA 2008: not "fass.de" as in IDNA 2003
        (fullwidth("shop.example"), "shop.example"),  # full-width letters and full stop
        ("москва.рф", "xn--80adxhks.xn--p1ai"),  # one script per label
        ("москва.example", "xn--80adxhks.example"),
        ("東京.jp", "xn--1lqs71d.jp"),
        ("ひらがなカタカナ漢字abc.jp", "xn--abc-o73b4fvb9jyka3rseo550d906b.jp"),  # Japanese mix
        ("한국어abc.kr", "xn--abc-lt8l948gbwt.kr"),
        ("αβγ.gr", "xn--mxacd.gr"),
        ("123.example", "123.example"),
        ("a-b.c-d.example", "a-b.c-d.example"),
        ("x" * 63 + ".example", "x" * 63 + ".example"),
        ("skyforge.example.com", "skyforge.example.com"),  # shares letters, not the suffix
    ],
)
def test_good_hostnames_come_out_in_their_canonical_ascii_form(given: str, expected: str) -> None:
    assert normalize(given) == expected


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ("evil.com:8080", "no port"),
        ("https://x.com", "not a URL"),
        ("x.com/path", "no path"),
        ("x.com?a=1", "no query"),
        ("x.com#top", "no fragment"),
        ("user@x.com", "no user name"),
        ("user:pw@x.com", "no user name"),
        ("x%2ecom", "percent"),
        ("1.2.3.4", "IP address"),
        ("1.2.3.4.", "IP address"),
        ("[::1]", "IP address"),
        ("::ffff:169.254.169.254", "IP address"),
        (fullwidth("1.2.3.4"), "IP address"),  # full-width digits map to an IPv4 address
        ("127.1", "numeric"),
        ("example.0x7f", "numeric"),
        ("\u0430pple.com", "mixes scripts"),  # Cyrillic a, Latin pple
        ("xn--pple-43d.com", "mixes scripts"),  # the same, given as an A-label
        ("p\u0430ypal.example", "mixes scripts"),
        ("\u0430\u0440\u0440\u04cf\u0435.com", "look Latin"),  # apple, all in Cyrillic
        ("\u03bf\u03c1.com", "look Latin"),  # op, in Greek
        ("*.x.com", "wildcard"),
        ("a..b", "empty label"),
        (".a.com", "empty label"),
        ("a.com..", "empty label"),
        ("-a.com", "hyphen"),
        ("a-.com", "hyphen"),
        ("ab--cd.com", "hyphen"),
        ("xn--abc.com", "not a valid hostname"),  # not Punycode of anything valid
        ("a_b.com", "not a valid hostname"),
        ("x" * 64 + ".com", "not a valid hostname"),
        (("a" * 60 + ".") * 5 + "com", "too long"),
        ("a" * 300, "too long"),
        ("x" * 5000, "at most"),
        ("localhost", "single label"),
        ("com", "single label"),
        ("web.shop.localhost", "under 'localhost'"),
        ("shop.localhost.", "under 'localhost'"),
        ("skyforge.example", "under 'skyforge.example'"),
        ("web.shop.SKYFORGE.example", "under 'skyforge.example'"),
        ("", "empty"),
        ("a b.com", "no spaces"),
        ("a\x00.com", "control"),
        ("a\u200d.com", "not a valid hostname"),  # a joiner out of context
        ("shop.example\u202e", "not a valid hostname"),  # bidi override
        ("a.*.com", "'*'"),
    ],
)
def test_hostile_or_malformed_names_are_refused(given: str, reason: str) -> None:
    with pytest.raises(Invalid, match=reason):
        normalize(given)


def test_wildcards_are_allowed_only_when_asked_and_only_as_the_first_label() -> None:
    assert normalize("*.Shop.Example", allow_wildcard=True) == "*.shop.example"
    assert normalize("*.bücher.example", allow_wildcard=True) == "*.xn--bcher-kva.example"
    for bad in ("*.com", "a.*.com", "**.x.com", "*x.com", "*.localhost", "*.skyforge.example"):
        with pytest.raises(Invalid):
            normalize(bad, allow_wildcard=True)


def test_platform_suffixes_are_compared_in_their_canonical_form() -> None:
    suffixes = [" Apps.Bücher.Example. "]

    with pytest.raises(Invalid, match="under"):
        normalize_hostname("shop.apps.xn--bcher-kva.example", platform_suffixes=suffixes)
    assert normalize_hostname("apps2.bücher.example", platform_suffixes=suffixes)


def test_a_non_string_is_refused() -> None:
    with pytest.raises(Invalid, match="string"):
        normalize_hostname(None, platform_suffixes=())  # type: ignore[arg-type]
