"""Log drains: a service's app output forwarded to syslog, an HTTP endpoint or Loki."""
