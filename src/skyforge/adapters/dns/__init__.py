"""Ownership verification of custom hostnames: DNS TXT records and HTTP tokens."""

from skyforge.adapters.dns.fake import FakeVerifier
from skyforge.adapters.dns.http_verifier import HttpTokenVerifier, refused_address
from skyforge.adapters.dns.txt_verifier import DnsTxtVerifier

__all__ = ["DnsTxtVerifier", "FakeVerifier", "HttpTokenVerifier", "refused_address"]
