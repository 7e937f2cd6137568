"""The gate's limits moved to a site's films, never so far that non-chest images get through.

A site's own frontal films are, by definition, what "a frontal chest film from here" looks
like; when the model's limits (fitted on public research films) refuse or caution many of
them, the limits, not the films, are wrong for this site. Site calibration therefore moves
each two-tier check's limits (layout, orientation, global statistics, texture, the
classifier's feature distance) out to where the site's films lie:

* **the site's look** is its films that the view model calls frontal (frontal probability at
  least the view card's caution limit) and that passed the image checks; films the view model
  calls lateral, rotated or other, and colour/flat/few-grey images, never count;
* the two image checks a site's films trip over (the aspect ratio, and the share of the image
  that is one flat value: collimation, black borders, a detector larger than the patient)
  widen the same way, with one limit each and no caution tier; colour and too few grey
  levels never do (no X-ray has them);
* each two-tier check's **usual limit** moves out to the site's 99th percentile (fewer of
  the site's films cautioned) but never past its refusal limit. Its **refusal limit** moves
  only for the site's films the view check is unsure of: a film the view check vouches for
  (at least its confident limit, 99 % frontal) is never refused by these checks anyway, so a
  refusal limit only decides the unsure films, which is where non-chest images lie (a drawn
  screenshot of an image viewer showing a chest film, 54 % frontal, got through when every
  site film counted). It becomes at least the 99.5th percentile of the site's unsure films
  plus the check's refusal margin (at least :data:`MIN_SITE_MARGIN`) times their distance
  from their median (the rule the model's own limits were fitted by,
  :mod:`model_training.ood_fitting`), with at least :data:`MIN_UNSURE_FILMS` of them; the
  image checks (no vouching) use every film of the site's look. A card without refusal
  limits gets them (the model's usual limits), so the view check's vouching applies from
  then on. Limits only widen;
* **the brake**: the non-chest check set shipped with LungLens
  (:mod:`desktop_app.core.gate.check_set`) is run through the same model; a check's widening
  is scaled back (bisection on the fraction of the way it moves) until **no image of that
  set that the model refused is labelled** (since 2026-12-07, both halves: a limit never
  widens past a non-chest image), and no refusal limit goes more than half-way to the nearest
  image of the set past it (a margin for non-chest images that are not in the set). The
  share refused is reported per half; the set's other figure (:func:`non_chest_floor`) is
  kept as a report of how far the development half stays above 98 %.

The refusal of a film under new limits is simulated from the values the gate measured
(:func:`refused_and_cautioned`), by the rule of :meth:`desktop_app.core.gate.Gate.combine`:
a tests compares it with the real classify path on a calibrated bundle.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from desktop_app.core.gate import usual_limits, with_limits
from desktop_app.core.gate.gate import agreement
from desktop_app.core.gate.verdict import Tier, tier

__all__ = [
    "CHECKS",
    "CHECK_WORDS",
    "IMAGE_CHECKS",
    "MIN_SITE_MARGIN",
    "GateLimits",
    "ViewLimits",
    "card_value",
    "non_chest_floor",
    "refused_and_cautioned",
    "site_limits",
]

#: The two-tier checks a site may widen, in the order the gate applies them.
CHECKS = ("layout", "orientation", "global", "texture", "features")
#: The image checks a site may widen: one limit each, never a caution tier, never vouched
#: for by the view check. (Colour and few grey levels are not widened: a real X-ray has
#: neither, whatever the site.)
IMAGE_CHECKS = ("aspect", "uniform_fraction")
_IMAGE_SPEC_KEYS = {"aspect": "max_aspect", "uniform_fraction": "max_uniform_fraction"}
#: Each check in words, for tables (orientation is shown as its minimum score).
CHECK_WORDS = {
    "layout": "layout (appearance distance)",
    "orientation": "orientation (minimum score)",
    "global": "brightness, contrast, sharpness",
    "texture": "texture",
    "features": "feature distance",
    "aspect": "aspect ratio",
    "uniform_fraction": "flat area (share of one value)",
}


def card_value(check: str, value: float) -> float:
    """A limit as the card states it (orientation: a minimum score, not negated)."""
    return -value if check == "orientation" else value
#: Site quantile a usual limit moves out to (films past it are cautioned).
USUAL_QUANTILE = 0.99
#: Site quantile a refusal limit starts from.
REFUSAL_QUANTILE = 0.995
#: A two-tier refusal limit moves only with at least this many site films the view check is
#: unsure of (below its confident limit): fewer say nothing about where they lie.
MIN_UNSURE_FILMS = 10
#: Smallest refusal margin at a site (the model's margins for orientation and global
#: statistics are 0: no held-out public source needed room there, but a new site might).
MIN_SITE_MARGIN = 0.25
#: The non-chest check set must stay refused at least this much ...
MIN_NON_CHEST_REFUSED = 0.98
#: ... and never fall more than this below what the model refused before calibration.
MAX_NON_CHEST_DROP = 0.005
_BISECTION_STEPS = 24

#: The model's refusal margins (model_training.ood_fitting.REFUSAL_MARGINS, measured by the
#: leave-one-source-out study); repeated here because the core cannot import training code,
#: and read from the card's fit record when it has one.
_DEFAULT_MARGINS = {"layout": 0.225, "orientation": 0.0, "global": 0.0, "texture": 0.251,
                    "features": 0.473, "aspect": 0.0, "uniform_fraction": 0.0}


@dataclass(frozen=True)
class ViewLimits:
    """The view card's thresholds (:class:`desktop_app.core.gate.ViewCheck`)."""

    min_frontal: float
    caution_frontal: float | None = None
    confident_frontal: float | None = None


@dataclass(frozen=True)
class GateLimits:
    """Each check's usual and refusal limit, all as upper limits (orientation negated).

    Attributes:
        usual: Per check, past this a film is cautioned (image checks: refused).
        refusal: Per check, past this it is refused (unless the view check vouches, which it
            never does for an image check).
        fixed: The image limits a site never moves: ``colourfulness`` (at most) and
            ``gray_levels`` (at least).
    """

    usual: dict[str, float]
    refusal: dict[str, float]
    fixed: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> GateLimits:
        """The limits of a card's ``ood`` section (no refusal limit: refused at the usual)."""
        usual = {key: (-value if key == "orientation" else value)
                 for key, value in usual_limits(spec).items() if key in CHECKS}
        stored = dict(spec.get("refusal_limits") or {})
        refusal = {key: (-float(stored[key]) if key == "orientation" else float(stored[key]))
                   if key in stored else usual[key] for key in usual}
        for key, spec_key in _IMAGE_SPEC_KEYS.items():
            usual[key] = refusal[key] = float(spec[spec_key])
        fixed = {"colourfulness": float(spec["max_colourfulness"]),
                 "gray_levels": float(spec["min_gray_levels"])}
        return cls(usual, refusal, fixed)

    def to_spec(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        """``spec`` with these limits written in (orientation back to minimum scores)."""
        out = with_limits(spec, {k: card_value(k, v) for k, v in self.usual.items()
                                 if k in CHECKS},
                          {k: card_value(k, v) for k, v in self.refusal.items() if k in CHECKS})
        for key, spec_key in _IMAGE_SPEC_KEYS.items():
            out[spec_key] = float(self.refusal[key])
        return out

    def scaled(self, target: GateLimits, fraction: Mapping[str, float]) -> GateLimits:
        """These limits moved ``fraction[check]`` of the way to ``target``'s."""
        def move(now: dict[str, float], goal: dict[str, float]) -> dict[str, float]:
            return {key: now[key] + fraction.get(key, 0.0) * (goal[key] - now[key])
                    for key in now}

        return GateLimits(move(self.usual, target.usual), move(self.refusal, target.refusal),
                          dict(self.fixed))


def _upper(values: Mapping[str, float], key: str) -> float:
    value = float(values.get(key, math.nan))
    return -value if key == "orientation" else value


def measured_by_gate(values: Mapping[str, float] | None) -> bool:
    """True when every check's value is known (the appearance checks ran).

    The classify path runs them on every readable film since 2026-12-06; a check-set record
    made before (or an image the image checks refused then) lacks them and keeps its outcome.
    """
    return bool(values) and "layout" in values


def never_widened_refusal(values: Mapping[str, float], limits: GateLimits) -> bool:
    """Refused by a check no site moves: no lung fields, colour, too few grey levels."""
    if values.get("lungs_found") == 0.0:
        return True
    colour = values.get("colourfulness")
    grey = values.get("gray_levels")
    return bool((colour is not None and "colourfulness" in limits.fixed
                 and colour > limits.fixed["colourfulness"])
                or (grey is not None and "gray_levels" in limits.fixed
                    and grey < limits.fixed["gray_levels"]))


def refused_and_cautioned(
    values: Sequence[Mapping[str, float] | None],
    limits: GateLimits,
    view: ViewLimits,
    fixed_refusal: Sequence[bool],
) -> tuple[np.ndarray, np.ndarray]:
    """Whether each film would be refused / cautioned under ``limits``.

    The gate's own rule (:func:`desktop_app.core.gate.gate.agreement`, which
    :meth:`desktop_app.core.gate.Gate.combine` applies): image checks and "no lung fields"
    refuse; then the view check; then the two-tier checks by agreement: refusals the view
    check may outweigh, two doubts refused.

    Args:
        values: Each film's gate values (``OodVerdict.values``); ``None`` for an unreadable
            file.
        limits: The limits to simulate.
        view: The view card's thresholds (the view check is never moved).
        fixed_refusal: Per film, whether it was refused before; used for films whose values
            are not all known (unreadable, or measured before every check ran).

    Returns:
        ``(refused, cautioned)`` boolean arrays.
    """
    refused = np.zeros(len(values), dtype=bool)
    cautioned = np.zeros(len(values), dtype=bool)
    for index, film in enumerate(values):
        if not measured_by_gate(film):
            refused[index] = bool(fixed_refusal[index]) or film is None
            continue
        frontal = float(film.get("frontal_probability", 1.0))
        tiers = {key: tier(_upper(film, key), limits.usual[key], limits.refusal[key])
                 for key in CHECKS if key in limits.usual and key in film}
        outcome = agreement(
            image_refused=never_widened_refusal(film, limits) or any(
                key in film and key in limits.refusal and film[key] > limits.refusal[key]
                for key in IMAGE_CHECKS),
            view_tier=(Tier.REFUSE if not frontal >= view.min_frontal else
                       Tier.CAUTION if view.caution_frontal is not None
                       and frontal < view.caution_frontal else Tier.PASS),
            vouches=view.confident_frontal is not None and frontal >= view.confident_frontal,
            refused_by=[key for key, found in tiers.items() if found is Tier.REFUSE],
            unusual=any(found is not Tier.PASS for found in tiers.values()),
        )
        refused[index] = outcome is Tier.REFUSE
        cautioned[index] = outcome is Tier.CAUTION
    return refused, cautioned


def non_chest_floor(refused_before: float) -> float:
    """The share of the non-chest check set that must stay refused (see module docs)."""
    return max(MIN_NON_CHEST_REFUSED, refused_before - MAX_NON_CHEST_DROP)


def _margins(spec: Mapping[str, Any]) -> dict[str, float]:
    recorded = (spec.get("fit") or {}).get("refusal_margins") or {}
    return {key: max(float(recorded.get(key, _DEFAULT_MARGINS[key])), MIN_SITE_MARGIN)
            for key in (*CHECKS, *IMAGE_CHECKS)}


def site_look(values: Sequence[Mapping[str, float] | None], view: ViewLimits,
              limits: GateLimits | None = None) -> list[int]:
    """Indices of the films that count as the site's look (see module docs)."""
    floor = view.caution_frontal if view.caution_frontal is not None else view.min_frontal
    return [index for index, film in enumerate(values)
            if measured_by_gate(film) and float(film.get("frontal_probability", 1.0)) >= floor
            and (limits is None or not never_widened_refusal(film, limits))]


def _half_way_cap(key: str, before: GateLimits, wanted: GateLimits,
                  check_values: Sequence[Mapping[str, float] | None],
                  development: np.ndarray, view: ViewLimits) -> float:
    """How far ``key``'s limit may move: at most half-way to the nearest non-chest image.

    The nearest image of the check set (of those ``development`` marks: all of them since
    2026-12-07) past the model's refusal limit. The
    bisection alone lets a limit run up to just below that image, and an image of the
    same kind that is not in the set (the held-out half) can then lie just past the old limit
    and get through: measured on the simulated sites (docs/site_calibration.md), a drawn
    image-viewer screenshot did. Half the clearance keeps a margin on the non-chest side.
    Only images the view check does not refuse count (for the others the limit is moot).
    """
    gap = wanted.refusal[key] - before.refusal[key]
    if gap <= 0:
        return 1.0
    beyond = [_upper(film, key) for film, counted in zip(check_values, development,
                                                          strict=True)
              if counted and measured_by_gate(film)
              and float(film.get("frontal_probability", 1.0)) >= view.min_frontal]
    beyond = [value for value in beyond if np.isfinite(value) and value > before.refusal[key]]
    if not beyond:
        return 1.0
    return float(min(1.0, 0.5 * (min(beyond) - before.refusal[key]) / gap))


def site_limits(
    spec: Mapping[str, Any],
    site_values: Sequence[Mapping[str, float] | None],
    view: ViewLimits,
    check_values: Sequence[Mapping[str, float] | None],
    check_fixed: Sequence[bool],
    check_development: Sequence[bool],
) -> dict[str, Any]:
    """The site's limits for a card's ``ood`` section, braked by the non-chest check set.

    Args:
        spec: The model card's ``ood`` section.
        site_values: The gate values of the site's films (the calibration films only).
        view: The view card's thresholds.
        check_values: The gate values of the shipped non-chest check set under this model.
        check_fixed: Per check-set image, whether it was refused before (for the images the
            limits cannot change).
        check_development: Per check-set image, True for the development half (the brake);
            the held-out half is only reported.

    Returns:
        ``{"limits": GateLimits, "wanted": GateLimits, "moved": {check: fraction},
        "site_films": n, "non_chest": {...}}``: the limits to use, where the site's films
        alone would have put them, how far of that way each check moved (1 = all the way),
        how many films made the site's look, and the check set's refusal before/after per half.
    """
    before = GateLimits.from_spec(spec)
    look = site_look(site_values, view, before)
    wanted = _wanted_limits(before, _margins(spec), site_values, look, view)
    moved = _moved_fractions(before, wanted, site_values, look, view, check_values,
                             check_fixed)
    limits = before.scaled(wanted, moved)
    return {
        "limits": limits,
        "wanted": wanted,
        "moved": moved,
        "site_films": len(look),
        "non_chest": _non_chest_record(before, limits, view, check_values, check_fixed,
                                       check_development),
    }


def _wanted_limits(before: GateLimits, margins: Mapping[str, float],
                   site_values: Sequence[Mapping[str, float] | None], look: Sequence[int],
                   view: ViewLimits) -> GateLimits:
    """Where the site's films alone would put each check's usual and refusal limits."""
    wanted_usual = dict(before.usual)
    wanted_refusal = dict(before.refusal)
    # Films the view check vouches for are never refused by a two-tier check: its refusal
    # limit decides only the films the view check is unsure of, which is where non-chest
    # images lie. So a two-tier refusal limit moves only as far as the site's own unsure
    # films need (with enough of them to say), and its usual limit never past it.
    unsure = [i for i in look if view.confident_frontal is None
              or float(site_values[i].get("frontal_probability", 1.0)) < view.confident_frontal]

    def column(rows: Sequence[int], key: str) -> np.ndarray:
        values = np.array([_upper(site_values[i], key) for i in rows], dtype=np.float64)
        return values[np.isfinite(values)]

    def refusal_of(values: np.ndarray, key: str) -> float:
        high = float(np.quantile(values, REFUSAL_QUANTILE))
        return high + margins[key] * max(high - float(np.median(values)), 0.0)

    for key in before.usual:
        everyone = column(look, key)
        if len(everyone) == 0:
            continue
        usual = float(np.quantile(everyone, USUAL_QUANTILE))
        if key in IMAGE_CHECKS:  # one limit, no vouching: every film of the site's look
            wanted_usual[key] = wanted_refusal[key] = max(before.refusal[key],
                                                          refusal_of(everyone, key))
            continue
        doubtful = column(unsure, key)
        refusal = refusal_of(doubtful, key) if len(doubtful) >= MIN_UNSURE_FILMS else -math.inf
        wanted_refusal[key] = max(before.refusal[key], refusal)
        wanted_usual[key] = min(max(before.usual[key], usual), wanted_refusal[key])
    return GateLimits(wanted_usual, wanted_refusal, dict(before.fixed))


def _moved_fractions(before: GateLimits, wanted: GateLimits,
                     site_values: Sequence[Mapping[str, float] | None], look: Sequence[int],
                     view: ViewLimits, check_values: Sequence[Mapping[str, float] | None],
                     check_fixed: Sequence[bool]) -> dict[str, float]:
    """How far of the wanted way each check moves (0 to 1).

    No check-set image the model refused may be labelled, and no check moves more than half
    way to the nearest one (:func:`_half_way_cap`).
    """
    refused_before, _ = refused_and_cautioned(check_values, before, view, check_fixed)

    def keeps_refusing(limits: GateLimits) -> bool:
        """No check-set image the model refused is labelled under ``limits``."""
        refused, _ = refused_and_cautioned(check_values, limits, view, check_fixed)
        return not bool((refused_before & ~refused).any())
    # Widen the check that refuses most site films first: it is the one the site needs most.
    site_refused = {key: sum(_upper(site_values[i], key) > before.refusal[key] for i in look)
                    for key in before.usual}
    moved = {key: 0.0 for key in before.usual}
    for key in sorted(before.usual, key=lambda k: -site_refused[k]):
        if wanted.refusal[key] <= before.refusal[key] and wanted.usual[key] <= before.usual[key]:
            moved[key] = 1.0  # the site's films asked for nothing: all of no way
            continue
        if keeps_refusing(before.scaled(wanted, {**moved, key: 1.0})):
            moved[key] = 1.0
            continue
        low, high = 0.0, 1.0
        for _ in range(_BISECTION_STEPS):
            middle = (low + high) / 2
            if keeps_refusing(before.scaled(wanted, {**moved, key: middle})):
                low = middle
            else:
                high = middle
        moved[key] = low
    everyone = np.ones(len(check_values), dtype=bool)
    return {key: min(fraction, _half_way_cap(key, before, wanted, check_values, everyone,
                                             view))
            for key, fraction in moved.items()}


def _non_chest_record(before: GateLimits, limits: GateLimits, view: ViewLimits,
                      check_values: Sequence[Mapping[str, float] | None],
                      check_fixed: Sequence[bool],
                      check_development: Sequence[bool]) -> dict[str, Any]:
    """The check set's refusal before and after, per half; the floor; images now labelled."""
    development = np.asarray(check_development, dtype=bool)
    held_out = ~development

    def refused_share(limits: GateLimits, rows: np.ndarray) -> float:
        refused, _ = refused_and_cautioned(check_values, limits, view, check_fixed)
        return float(refused[rows].mean()) if rows.any() else 1.0

    refused_before, _ = refused_and_cautioned(check_values, before, view, check_fixed)
    return {
        "floor": non_chest_floor(refused_share(before, development)),
        "newly_labelled": int((refused_before & ~refused_and_cautioned(
            check_values, limits, view, check_fixed)[0]).sum()),
        "development": {"n": int(development.sum()),
                        "refused_before": refused_share(before, development),
                        "refused_after": refused_share(limits, development)},
        "held_out": {"n": int(held_out.sum()),
                     "refused_before": refused_share(before, held_out),
                     "refused_after": refused_share(limits, held_out)},
    }
