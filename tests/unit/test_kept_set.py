"""The error stream reads the stored set of functions that keep their failed async events at
most once an hour per cold start, by the deliveries' own time (vigil.compose.error_stream)."""

from datetime import timedelta

from tests.factories import T0
from vigil.compose.error_stream import KeptSet


def test_the_set_is_read_once_an_hour_and_again_when_time_runs_backwards() -> None:
    reads: list[int] = []

    def read() -> frozenset[str]:
        reads.append(1)
        return frozenset({f"fn-{len(reads)}"})

    kept = KeptSet()
    first = kept.get(T0, read)
    same = kept.get(T0 + timedelta(minutes=59), read)
    later = kept.get(T0 + timedelta(hours=1), read)
    replayed = kept.get(T0, read)  # an older delivery: read again rather than trust the future

    assert (first, same, later, replayed) == (
        frozenset({"fn-1"}),
        frozenset({"fn-1"}),
        frozenset({"fn-2"}),
        frozenset({"fn-3"}),
    )
