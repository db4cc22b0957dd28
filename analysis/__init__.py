"""Thermodynamic accounting, entropy production, tables and the `qhe` command line."""

__all__: list[str] = []
