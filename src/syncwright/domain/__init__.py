"""Pure concepts of syncwright: statuses, runs, entries, syncs and policies. No I/O."""
