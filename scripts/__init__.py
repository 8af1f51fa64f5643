"""Scripts around the project (screenshots of the web UI)."""
