"""Names of projects and services: DNS labels, and no lookalike in punycode for new ones."""

import re

from skyforge.kernel.errors import Invalid
from skyforge.kernel.lookalikes import punycode_problem

_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def dns_label(value: str, what: str = "name") -> str:
    """Return value when it is a DNS label (RFC 1123), else raise Invalid."""
    if not isinstance(value, str) or not _DNS_LABEL.fullmatch(value):
        raise Invalid(
            f"{what} must be a DNS label: 1-63 lowercase letters, digits or '-', "
            "starting and ending with a letter or digit"
        )
    return value


def new_name(value: str, what: str = "name") -> str:
    """A DNS label for something being created that no browser shows as a lookalike.

    Names stand in hostnames (`web.shop.localhost`), where browsers show an `xn--` label
    decoded: the custom domains' rule applies. Only new names: one stored before the rule
    existed must still load."""
    dns_label(value, what)
    problem = punycode_problem(value)
    if problem is not None:
        raise Invalid(f"{what} {value!r} {problem}")
    return value
