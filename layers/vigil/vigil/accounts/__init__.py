"""The member accounts of an AWS Organization (docs/rules.md, ``organization``; ADR 50)."""
