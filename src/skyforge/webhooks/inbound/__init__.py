"""Inbound git-provider hooks: GitHub and GitLab tell SkyForge about pushes and pull requests."""
