"""Log drain protocols: RFC 5424 syslog (TCP, UDP, TLS), NDJSON over HTTP, Loki push."""
