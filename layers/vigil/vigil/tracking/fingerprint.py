"""The fingerprint of an error line: which error lines are the same error.

Like Sentry's default grouping, a line with a stack is grouped by its exception type and its
in-app frames (file and function, line numbers dropped), whatever its message says; a line
without in-app frames is grouped by its type and its message with the variable parts
(timestamps, UUIDs and request ids, X-Ray trace ids, quoted values, hex ids, numbers) replaced
by placeholders. So ``KeyError: 'user_id'`` and ``KeyError: 'order_id'`` raised at the same
place are one error, and without a stack they are one error too: the quoted key is a value.
"""

import hashlib
import re
from typing import Final

from vigil.tracking.logs import ErrorLine

FINGERPRINT_LENGTH: Final = 16

# Frames outside the function's own code: the Lambda runtime, the Python standard library
# and the Node.js internals of the runtime image, layers' Python packages, installed
# packages, and frozen or native frames.
_LIBRARY_MARKERS: Final = (
    "/var/runtime/",
    "/var/lang/",
    "/opt/python/",
    "site-packages/",
    "dist-packages/",
    "node_modules/",
)
_LIBRARY_PREFIXES: Final = ("<frozen ", "node:", "internal/")
_NATIVE_PATHS: Final = frozenset({"<anonymous>", "native"})
_TASK_ROOT: Final = "/var/task/"
_FRAME = re.compile(r"^(?P<path>.*?)(?::\d+)? in (?P<function>.*)$")

_PLACEHOLDERS: Final = (
    (
        re.compile(
            r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?"
        ),
        "<time>",
    ),
    (
        re.compile(
            r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
        ),
        "<uuid>",
    ),
    (re.compile(r"\b1-[0-9a-f]{8}-[0-9a-f]{24}\b"), "<trace>"),
    (re.compile(r"(?<![\w'])'[^'\n]*'(?!\w)"), "'<value>'"),
    (re.compile(r'(?<![\w"])"[^"\n]*"(?!\w)'), '"<value>"'),
    (re.compile(r"\b0x[0-9a-fA-F]+\b"), "<hex>"),
    (re.compile(r"\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}\b"), "<hex>"),
    (re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?![\w])"), "<n>"),
)
_SPACES = re.compile(r"\s+")


def fingerprint(line: ErrorLine) -> str:
    """16 hex characters of a SHA-256: the error type with the in-app frames, or without
    them the normalised message."""
    frames = in_app_frames(line.frames)
    parts = (
        [line.error_type, *frames] if frames else [line.error_type, normalise_message(line.message)]
    )
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return digest[:FINGERPRINT_LENGTH]


def in_app_frames(frames: tuple[str, ...]) -> list[str]:
    """The frames of the function's own code as ``path in function``: the ``/var/task/``
    prefix and the line number dropped, library and runtime frames left out."""
    kept: list[str] = []
    for frame in frames:
        match = _FRAME.match(frame)
        if match is None:
            continue
        path = match["path"].removeprefix("file://")
        if (
            path in _NATIVE_PATHS
            or path.startswith(_LIBRARY_PREFIXES)
            or any(marker in path for marker in _LIBRARY_MARKERS)
        ):
            continue
        kept.append(f"{path.removeprefix(_TASK_ROOT)} in {match['function']}")
    return kept


def normalise_message(message: str) -> str:
    """The message with its variable parts replaced by placeholders (``<time>``, ``<uuid>``,
    ``<trace>``, ``'<value>'``, ``"<value>"``, ``<hex>``, ``<n>``) and whitespace collapsed."""
    for pattern, placeholder in _PLACEHOLDERS:
        message = pattern.sub(placeholder, message)
    return _SPACES.sub(" ", message).strip()
