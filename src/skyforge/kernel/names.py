"""Names of projects and services: DNS labels."""

import re

from skyforge.kernel.errors import Invalid

_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def dns_label(value: str, what: str = "name") -> str:
    """Return value when it is a DNS label (RFC 1123), else raise Invalid."""
    if not isinstance(value, str) or not _DNS_LABEL.fullmatch(value):
        raise Invalid(
            f"{what} must be a DNS label: 1-63 lowercase letters, digits or '-', "
            "starting and ending with a letter or digit"
        )
    return value
