"""Hypothesis profiles for the bad-input tests, and the tenancy matrix's world (two resellers with a row
of every tenant model) for the form walk.

HYPOTHESIS_PROFILE=ci (the default): reproducible (derandomized), bounded so tests/security runs in a few
minutes. HYPOTHESIS_PROFILE=fuzz: the long run (docs/security.md, "Bad input"), random and 50 times longer.
"""

import os

from hypothesis import HealthCheck, settings

from ..foundation.conftest import world  # noqa: F401 - the two-reseller world, extended by the matrix

_COMMON = {"deadline": None, "suppress_health_check": list(HealthCheck), "database": None}
settings.register_profile("ci", max_examples=200, derandomize=True, **_COMMON)
settings.register_profile("fuzz", max_examples=10_000, **_COMMON)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")


def examples(ci: int) -> int:
    """How many examples a test runs: `ci` in the suite, 50 times as many in the long run."""
    return ci * 50 if PROFILE == "fuzz" else ci
