"""Stroke protocols and cycles (Otto, Carnot-like, Stirling) built on `engines` (see issue 3)."""

__all__: list[str] = []
