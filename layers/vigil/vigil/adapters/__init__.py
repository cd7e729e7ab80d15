"""Thin adapters between the domain and the outside world; each takes an injected client."""
