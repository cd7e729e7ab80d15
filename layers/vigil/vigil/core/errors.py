"""Domain exceptions. Adapters translate botocore and HTTP failures into these."""

from collections.abc import Callable

from pydantic import ValidationError

MAX_PROBLEMS_LISTED = 10


class VigilError(Exception):
    """Base class of every error Vigil raises on purpose."""


class ConfigError(VigilError):
    """The configuration (environment or rules) is invalid; the message names the field."""


class InvalidEventError(VigilError):
    """An incoming event does not match its contract; the message says what and where."""


class InvalidRunbookInput(VigilError):
    """A runbook was started with input that fails validation."""


class ConflictError(VigilError):
    """A conditional write lost a race; re-read and try again."""


class ChatDeliveryError(VigilError):
    """A chat platform refused or failed a message after retries."""


class ChatMessageGone(ChatDeliveryError):
    """The chat message to edit no longer exists (deleted in the channel)."""


class ChatDestinationRefused(ChatDeliveryError):
    """The platform refuses the destination itself (webhook removed, token revoked, bot not
    in the channel): retrying cannot help, its configuration must change."""


def describe_validation(
    exc: ValidationError,
    *,
    show_input: bool = False,
    where: Callable[[tuple[str | int, ...]], tuple[int, int] | None] | None = None,
) -> str:
    """``field.path: what is wrong`` for each problem, ``;``-separated, at most ten; with
    ``where`` (a field's line and column in the source text) ``field.path (line 3, column
    7): what is wrong``."""
    problems = []
    for err in exc.errors()[:MAX_PROBLEMS_LISTED]:
        where_text = ".".join(str(part) for part in err["loc"]) or "(root)"
        found = where(tuple(err["loc"])) if where else None
        if found:
            where_text += f" (line {found[0]}, column {found[1]})"
        shown = show_input and err["type"] != "missing"
        got = f" (got {str(err.get('input'))[:80]!r})" if shown else ""
        problems.append(f"{where_text}: {err['msg']}{got}")
    more = exc.error_count() - MAX_PROBLEMS_LISTED
    return "; ".join(problems) + (f" (+{more} more)" if more > 0 else "")
