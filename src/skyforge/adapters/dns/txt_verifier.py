"""DnsTxtVerifier: the token in a TXT record, looked up with dnspython's async resolver."""

from __future__ import annotations

from collections.abc import Sequence

import dns.asyncresolver
import dns.exception
import dns.resolver

from skyforge.domains.verification import TXT_PREFIX, Check, Outcome, txt_name, txt_value


class DnsTxtVerifier:
    """Looks `_skyforge-challenge.<hostname>` up on the given name servers (else resolv.conf)."""

    def __init__(
        self,
        nameservers: Sequence[str] | None = None,
        *,
        port: int = 53,
        timeout: float = 2.0,
        lifetime: float = 5.0,
    ) -> None:
        resolver = dns.asyncresolver.Resolver(configure=nameservers is None)
        if nameservers is not None:
            resolver.nameservers = list(nameservers)
        resolver.port = port
        resolver.timeout = timeout  # per server tried
        resolver.lifetime = lifetime  # the whole lookup, retries included
        self._resolver = resolver

    async def verify(self, hostname: str, token: str) -> Check:
        """Check the TXT record once (no cache: the user may have just published it)."""
        expected, name = txt_value(token), txt_name(hostname)
        try:
            # search=False: the name is absolute, resolv.conf's search domains must not apply.
            answer = await self._resolver.resolve(name, "TXT", search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return Check(Outcome.MISSING, f"there is no TXT record at {name}")
        except dns.resolver.LifetimeTimeout:
            return Check(Outcome.UNREACHABLE, f"looking up {name} timed out")
        except dns.resolver.NoNameservers:
            return Check(Outcome.UNREACHABLE, f"no name server answered for {name}")
        except dns.exception.DNSException as error:
            return Check(Outcome.UNREACHABLE, f"looking up {name} failed: {error}")
        # A TXT record is a list of strings of up to 255 bytes each: a value is their join.
        values = [b"".join(rdata.strings).decode("utf-8", "replace").strip() for rdata in answer]
        if expected in values:
            return Check(Outcome.VERIFIED, f"{name} holds the token")
        if any(value.startswith(TXT_PREFIX) for value in values):
            return Check(Outcome.MISMATCH, f"{name} holds a different token")
        return Check(Outcome.MISSING, f"{name} has no {TXT_PREFIX} record")
