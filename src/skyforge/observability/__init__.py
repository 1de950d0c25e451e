"""Observability of SkyForge itself: Prometheus metrics, JSON logs and OpenTelemetry traces."""
