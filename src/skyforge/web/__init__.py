"""The web portal, served by the API process (server-rendered)."""
