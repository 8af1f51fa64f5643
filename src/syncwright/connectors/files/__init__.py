"""File connectors: CSV, JSON Lines and Parquet files as a source, and file feeds."""
