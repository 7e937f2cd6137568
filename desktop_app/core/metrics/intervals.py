"""The Wilson score interval of a proportion, for figures counted once (no resampling).

Site calibration states its before/after figures with it
(:mod:`desktop_app.core.site.site_figures`), and so do the site's threshold curves
(:mod:`desktop_app.core.metrics.threshold_curves`): a curve's point at the chosen threshold
must carry the interval of the table beside it. It stays honest for small n and for rates
near 0 or 1, where a normal approximation says "0 % ± 0". It lives among the metrics (the
lowest room of the core) so that every room above can use the one definition.
"""

from __future__ import annotations

import math

__all__ = ["wilson_figure", "wilson_interval"]


def wilson_interval(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval of a proportion (``(0, 1)`` when ``n`` is 0)."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def wilson_figure(successes: int, n: int) -> dict[str, float | int | list[float]]:
    """``{"value", "ci95", "n"}`` of ``successes`` in ``n`` (``n`` > 0), Wilson's interval.

    The one form of a counted figure: the site's before/after table and its curves build
    their figures here, so a curve's point at the chosen threshold equals the table's cell.
    """
    low, high = wilson_interval(successes, n)
    return {"value": successes / n, "ci95": [low, high], "n": n}
