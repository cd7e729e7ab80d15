"""The sentinel: a second-region watch that tells people when the primary Vigil stops
evaluating (docs/architecture.md, ADR 48)."""
