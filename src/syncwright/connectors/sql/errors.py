"""Driver errors as the short message a person reads in the report."""

from __future__ import annotations

import sqlalchemy as sa


def database_message(exc: BaseException) -> str:
    """The database's own message, without SQLAlchemy's statement dump."""
    if isinstance(exc, sa.exc.DBAPIError) and exc.orig is not None:
        text = str(exc.orig)
    else:
        text = str(exc)
    return " ".join(line.strip() for line in text.strip().splitlines() if line.strip())
