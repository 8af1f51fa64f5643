"""Durable execution of runs: read, diff, deliver, record; on DBOS workflows."""
