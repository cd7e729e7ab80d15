"""Every page of a boto3 paginator, each counted as one request, any failure raised as the
adapter's own error (so that a caller tells "AWS did not answer" from an empty answer)."""

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from vigil.adapters.stats import CallStats


def counted_pages(
    pages: Iterable[Any],
    *,
    api: str,
    stats: CallStats,
    failed: Callable[[str], Exception],
) -> Iterator[Any]:
    """The ``pages`` of a paginator (``api`` in the counts); ``failed(message)`` is raised
    when a page cannot be read (throttled, a 5xx, access denied, a connection error)."""
    pages = iter(pages)
    while True:
        try:
            page = next(pages)
        except StopIteration:
            return
        except (ClientError, BotoCoreError) as exc:
            raise failed(f"{api} failed: {exc}") from exc
        stats.count(api)
        yield page
