"""Errors the emulator raises; each message names what to fix."""

from __future__ import annotations


class EmulatorError(Exception):
    """Base class of every emulator error."""


class DeployError(EmulatorError):
    """The template could not be deployed into moto."""


class ScenarioError(EmulatorError):
    """A scenario file is invalid; the message names the file and the field."""


class SettleTimeout(EmulatorError):
    """Step Functions executions did not finish within the allowed time."""


class FunctionError(EmulatorError):
    """A synchronous Lambda invoke returned a function error (the handler raised)."""

    def __init__(self, function: str, payload: dict[str, object]) -> None:
        self.function = function
        self.payload = payload
        self.error_type = str(payload.get("errorType", "Unknown"))
        self.error_message = str(payload.get("errorMessage", ""))
        super().__init__(f"{function} failed: {self.error_type}: {self.error_message}")
