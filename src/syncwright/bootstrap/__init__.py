"""Reads settings, builds the concrete store and engine, and wires the services."""
