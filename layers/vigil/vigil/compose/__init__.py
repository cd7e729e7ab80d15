"""One composition module per function: its adapters wired into the domain, typed and
unit-tested here; the function's ``app.py`` parses, calls one entry point and returns."""
