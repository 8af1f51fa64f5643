"""Use cases: the only entry point for the API, the web UI and the CLI."""
