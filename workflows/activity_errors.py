"""What the workflow reads of a failed activity: its error type (`ErrorType`) and details."""

from __future__ import annotations

from datetime import datetime

from temporalio.exceptions import ActivityError, ApplicationError


def error_type(err: ActivityError | ApplicationError) -> str | None:
    """A local activity's failure may arrive bare or wrapped: accept both."""
    cause = err if isinstance(err, ApplicationError) else err.cause
    return cause.type if isinstance(cause, ApplicationError) else None


def window_end(err: ActivityError) -> datetime | None:
    """The end of the window a send was refused after (OutsideWindow's detail), if given."""
    cause = err.cause
    if not isinstance(cause, ApplicationError) or not cause.details:
        return None
    try:
        return datetime.fromisoformat(str(cause.details[0]))
    except ValueError:
        return None
