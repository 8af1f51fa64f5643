"""SQLAlchemy Core tables, Alembic migrations and repositories (SQLite and PostgreSQL)."""
