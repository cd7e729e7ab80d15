"""Dial families: each watches one kind of resource behind the interface of ``dials.base``."""
