"""Domain exceptions. Adapters translate botocore and HTTP failures into these."""


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
