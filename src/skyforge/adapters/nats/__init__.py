"""NATS JetStream: the event stream between SkyForge processes."""
