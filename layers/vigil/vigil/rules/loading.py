"""The rules config a running stack uses: the configured one, or the last good one.

The configured document is the ``RulesConfig`` stack parameter, which reaches every function
as ``VIGIL_RULES``; a stack update with a bad document changes it under running functions.
Each function validates it at cold start. A valid document is remembered in the state table
(``CONFIG#rules``, written only when it changed). An invalid one does not stop the stack:
the function logs the problem (its line, column and field) and runs with the last good
document, or the defaults when none was ever stored. The Evaluate function also turns the
problem into an alert of kind ``vigil.config_invalid`` (resource ``RulesConfig``), which
routes like any other and resolves with the first evaluation after the config is fixed.
"""

import hashlib
from dataclasses import dataclass
from typing import Protocol

from aws_lambda_powertools import Logger

from vigil.core.errors import ConfigError
from vigil.core.model import Labels, Signal, SignalBatch
from vigil.rules.document import RulesConfig
from vigil.rules.self_watch import CONFIG_KIND

logger = Logger(child=True)

CONFIG_RESOURCE = "RulesConfig"


class LastGoodPort(Protocol):
    def get(self) -> tuple[str, str] | None:
        """The last good document and its digest, if one was stored."""
        ...

    def put(self, document: str, digest: str) -> None: ...


@dataclass(frozen=True)
class LoadedRules:
    rules: RulesConfig
    problem: str | None = None
    """Why the configured document is not in use (the last good one runs instead)."""


def digest_of(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


def load_rules(
    document: str, *, last_good: LastGoodPort, source: str = "VIGIL_RULES"
) -> LoadedRules:
    """Validate ``document``; remember it when valid, fall back to the last good one if not."""
    try:
        rules = RulesConfig.from_json(document, source=source)
    except ConfigError as exc:
        stored = last_good.get()
        fallback = RulesConfig.from_json(stored[0], source="last good config") if stored else None
        logger.error(
            "invalid rules config; running the last good one"
            if fallback
            else "invalid rules config and none stored before; running the defaults",
            extra={"problem": str(exc)},
        )
        return LoadedRules(fallback or RulesConfig(), str(exc))
    digest = digest_of(document)
    stored = last_good.get()
    if stored is None or stored[1] != digest:
        last_good.put(document, digest)
    return LoadedRules(rules)


def with_config_signal(
    batch: SignalBatch, loaded: LoadedRules, *, account: str, region: str
) -> SignalBatch:
    """The batch, speaking for ``vigil.config_invalid`` too: a breaching signal while the
    configured document is invalid, none once it is fixed (so the alert resolves)."""
    signals = list(batch.signals)
    if loaded.problem is not None:
        signals.append(
            Signal(
                source=batch.source,
                labels=Labels(
                    kind=CONFIG_KIND, resource=CONFIG_RESOURCE, account=account, region=region
                ),
                value=1,
                unit="Count",
                window_seconds=60,
                observed_at=batch.collected_at,
                context={"problem": loaded.problem[:1000]},
            )
        )
    return batch.model_copy(
        update={
            "signals": signals,
            "covered_kinds": list(dict.fromkeys([*batch.covered_kinds, CONFIG_KIND])),
        }
    )
