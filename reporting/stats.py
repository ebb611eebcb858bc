"""The statistics of a variant comparison: Wilson intervals, Newcombe's interval for a
difference of two proportions, and the verdict ops read.

Why these: ops compare conversion rates of a few hundred accounts, often with rates near 0 or
1 where the textbook (Wald) interval is too narrow and can leave [0, 1]. Wilson's score interval
behaves there, and Newcombe's hybrid score interval for a difference (Newcombe 1998, "Interval
estimation for the difference between independent proportions", Statistics in Medicine 17,
method 10) is built from two of them: it stays within [-1, 1], always contains the observed
difference, and needs nothing beyond the standard library (`statistics.NormalDist`).

Ratios are floats (they are not money); counts are ints.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

CONFIDENCE = 0.95
# The "too small to tell" rule: below these, the normal approximation behind the intervals is
# not to be trusted and a verdict would be noise.
MIN_EXPOSED = 30
MIN_SUCCESSES = 5
MIN_FAILURES = 5


def z_for(confidence: float = CONFIDENCE) -> float:
    """The two-sided normal quantile (1.959964 for 95%)."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence {confidence}: must be between 0 and 1")
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson(successes: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson's score interval for successes/n (no continuity correction)."""
    if n <= 0:
        raise ValueError(f"n = {n}: a proportion needs at least one trial")
    if not 0 <= successes <= n:
        raise ValueError(f"successes = {successes}: must be between 0 and n = {n}")
    z = z_for(confidence)
    p = successes / n
    denominator = 2 * (n + z * z)
    centre = 2 * n * p + z * z
    spread = z * math.sqrt(z * z + 4 * n * p * (1 - p))
    # In exact arithmetic 0 <= low <= p <= high <= 1 (0/n gives low = 0, n/n high = 1):
    # keep it so when floating-point rounding says otherwise.
    low = max(0.0, min(p, (centre - spread) / denominator))
    high = min(1.0, max(p, (centre + spread) / denominator))
    return low, high


@dataclass(frozen=True)
class Difference:
    """p1 - p2 and its interval."""

    difference: float
    low: float
    high: float

    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0


def newcombe(x1: int, n1: int, x2: int, n2: int, confidence: float = CONFIDENCE) -> Difference:
    """Newcombe's hybrid score interval (method 10) for x1/n1 - x2/n2."""
    p1, p2 = x1 / n1 if n1 else math.nan, x2 / n2 if n2 else math.nan
    l1, u1 = wilson(x1, n1, confidence)
    l2, u2 = wilson(x2, n2, confidence)
    d = p1 - p2
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    # Rounding must not push the bounds past the difference itself, nor out of [-1, 1].
    return Difference(d, max(-1.0, min(low, d)), min(1.0, max(high, d)))


def too_small(exposed: int, converted: int) -> str | None:
    """Why an arm is too small to tell anything, or None when it is large enough."""
    if exposed < MIN_EXPOSED:
        return f"fewer than {MIN_EXPOSED} exposed ({exposed})"
    if converted < MIN_SUCCESSES:
        return f"fewer than {MIN_SUCCESSES} conversions ({converted})"
    if exposed - converted < MIN_FAILURES:
        return f"fewer than {MIN_FAILURES} non-conversions ({exposed - converted})"
    return None


TOO_SMALL = "sample too small to tell"
NO_CLEAR_DIFFERENCE = "no clear difference"


def verdict(
    control: str,
    control_counts: tuple[int, int],
    variant: str,
    variant_counts: tuple[int, int],
    difference: Difference | None,
) -> str:
    """What ops read for one variant against the control: counts are (exposed, converted).

    "sample too small to tell: <arm>: <rule>" when either arm breaks the rule (the first one
    that does, control first); "<name> ahead" when the interval of variant - control excludes
    0; else "no clear difference"."""
    for name, (exposed, converted) in ((control, control_counts), (variant, variant_counts)):
        rule = too_small(exposed, converted)
        if rule is not None:
            return f"{TOO_SMALL}: {name}: {rule}"
    if difference is None or not difference.excludes_zero():
        return NO_CLEAR_DIFFERENCE
    return f"{variant if difference.low > 0 else control} ahead"
