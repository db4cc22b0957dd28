"""Test-suite configuration: the Hypothesis profiles.

``ci`` (the default) draws the same examples on every run (``derandomize=True``), so a suite that
passed on one machine passes on the next; ``explore`` (``HYPOTHESIS_PROFILE=explore``) draws new
random examples each run and keeps failures in the example database, for hunting edge cases before
they are fixed and pinned.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
