"""Outgoing webhook subscriptions and deliveries; inbound git-provider hooks."""
