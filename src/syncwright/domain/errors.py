"""One exception root for syncwright; each exception's docstring is its default message."""

from __future__ import annotations


class SyncwrightError(Exception):
    """Something went wrong in syncwright."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())


class ConfigError(SyncwrightError):
    """The configuration is not valid."""

    def __init__(self, message: str | None = None, *, field: str | None = None) -> None:
        self.field = field
        text = message or (self.__doc__ or "").strip()
        self.message = text
        super().__init__(f"{field}: {text}" if field else text)


class NotFound(SyncwrightError):
    """No such object."""


class IllegalTransition(SyncwrightError):
    """This status change is not allowed."""


class SourceError(SyncwrightError):
    """The source could not be read."""


class DestinationError(SyncwrightError):
    """The destination could not be written."""

    def __init__(self, message: str | None = None, *, retryable: bool = True) -> None:
        #: Trying again later may succeed (a lost connection). False when waiting mends
        #: nothing (a missing table, a permission refused): the run fails at once.
        self.retryable = retryable
        super().__init__(message)


class GuardTripped(SyncwrightError):
    """The run was stopped before writing to protect the destination."""


class ModelError(SyncwrightError):
    """The model returned rows that cannot be synchronised."""


class Unauthenticated(SyncwrightError):
    """No valid credentials were given."""


class Forbidden(SyncwrightError):
    """Your role in this workspace does not allow this."""


class Conflict(SyncwrightError):
    """This cannot be done in the object's present state."""


class Throttled(SyncwrightError):
    """Too many failed attempts: try again later."""

    def __init__(self, message: str | None = None, *, retry_after: int = 1) -> None:
        #: Whole seconds before the next attempt is checked.
        self.retry_after = retry_after
        super().__init__(message)
