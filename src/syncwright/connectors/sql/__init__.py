"""SQL source and destination for any SQLAlchemy URL."""
