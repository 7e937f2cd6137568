"""One gate that combines every check and words the reason an image is refused.

A classifier always answers with one of its classes, even for a holiday photo, a CT slice or
a lateral film. LungLens shows a label only when the checks agree the image is a frontal
chest film:

1. cheap image statistics (:mod:`~desktop_app.core.gate.appearance`), before anything else;
2. the **view check** (:mod:`~desktop_app.core.gate.view`), a small model shipped with the
   program that knows real lateral films, CT, MR and ultrasound images, paper figures,
   viewer screenshots, films turned by 90°, crops and other images;
3. the appearance distances of the preprocessed image (layout, orientation, global
   statistics, texture), fitted on the classifier's training images;
4. the feature distance of the classifier (:mod:`~desktop_app.core.gate.features`).

The first check that refuses gives the reason: the earlier ones name the more specific cause
("colour image", "lateral view") and the later ones the more general one ("unlike the chest
X-rays the model was trained on"). Checks 1, 3 and 4 come from the classifier's card (its
``ood`` section, :mod:`~desktop_app.core.gate.spec`); check 2 does not depend on the
classifier, so a clinic that retrains keeps it.

**The rule: agreement, not a single voice** (:func:`agreement`, since 2026-12-07). A check
with a second, wider limit (``ood.refusal_limits``; the view card's
``caution_frontal_probability``) labels a film between its two limits **with a caution**: an
unusual but real frontal film (a portable ICU film with lines and tubes, a slightly rotated
one) gets its answer and the reader is told why to read it with care. A caution is never the
only thing between a non-chest image and a label:

* the image statistics, "no lung fields" and the view check's own refusal always refuse;
* the view check may turn a distance check's refusal into a caution (it *vouches*) only
  where nothing else says "not a radiograph": no image statistic and no "no lung fields"
  refuses, and the view check calls the film frontal with the margin measured on held-out
  categories (the view card's ``confident_frontal_probability``: above, with a margin, every
  frontal probability that a view model trained without any CT gave a CT slice, or one
  trained without ultrasound an ultrasound frame, that a distance check refuses;
  docs/ood_evaluation.md);
* below that threshold the view check is *not sure*: alone that is a caution, but two doubts
  refuse: a film the view check is not sure of that a distance check also finds unusual is
  refused, not labelled with two cautions.

Two stricter forms were measured and not taken (docs/ood_evaluation.md): letting the view
check outweigh only one refusing distance check, and never the texture or global-statistics
checks. Neither refused one more non-chest image, held-out categories included, and
together they refused 4 % of the bedside versions of the TEST films (target 2 %).

Any image the gate would refuse without the view check's vouching, and that the view check
does not call frontal with that margin, is refused. Measured per category of image (CT, MR,
ultrasound, laterals, photos, screenshots, figures, ward and frontal films of each source)
in docs/ood_evaluation.md (``benchmarks/gate_categories.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from desktop_app.core.gate.appearance import AppearanceChecks
from desktop_app.core.gate.features import FeatureDistance
from desktop_app.core.gate.spec import usual_limits, validate_ood_spec
from desktop_app.core.gate.vectors import ImageStatistics
from desktop_app.core.gate.verdict import OodVerdict, Tier
from desktop_app.core.gate.view import ViewCheck

__all__ = [
    "CAUTION_PREFIX",
    "CAUTION_SUFFIX",
    "TWO_DOUBTS_REASON",
    "Gate",
    "OodGate",
    "agreement",
]

CAUTION_PREFIX = "unusual film: "
CAUTION_SUFFIX = ": read with care"
TWO_DOUBTS_REASON = ("two checks doubt this is a frontal chest X-ray: {view}; and {other}; "
                     "CT/MR slice, another view or not a radiograph?")


class OodGate:
    """Applies a classifier card's ``ood`` section: image, appearance and feature checks.

    Attributes:
        appearance: The pre-model checks.
        features: The feature-distance check.
    """

    def __init__(self, spec: Mapping[str, Any]) -> None:
        validate_ood_spec(spec)
        self._spec = spec
        self.appearance = AppearanceChecks(spec)
        self.features = FeatureDistance(spec)

    @property
    def distance_threshold(self) -> float:
        """The feature-distance limit."""
        return self.features.distance_threshold

    @property
    def limits(self) -> dict[str, tuple[float, float | None]]:
        """Each check's ``(usual limit, refusal limit or None)``, for benchmarks.

        Keyed like the verdicts' ``values`` (orientation: minimum scores), so a benchmark can
        count which tier each film falls in.
        """
        out: dict[str, tuple[float, float | None]] = {
            "features": (self.features.distance_threshold, self.features.refusal_limit)}
        for name, limit in usual_limits(self._spec).items():
            if name != "features":
                refusal = self.appearance.refusal_limits.get(name)
                if name == "orientation" and refusal is not None:
                    refusal = -refusal
                out[name] = (limit, refusal)
        return out

    def check_image(self, stats: ImageStatistics) -> OodVerdict:
        """Cheap checks that run before the model."""
        return self.appearance.check_image(stats)

    def check_appearance(self, prepared: np.ndarray) -> OodVerdict:
        """Appearance checks on the preprocessed image (before the model)."""
        return self.appearance.check_appearance(prepared)

    def appearance_distances(self, prepared: np.ndarray) -> dict[str, tuple[float, float]]:
        """Each appearance check's ``(distance, limit)`` (see :class:`AppearanceChecks`)."""
        return self.appearance.appearance_distances(prepared)

    def appearance_distance(self, thumbnails: np.ndarray) -> np.ndarray:
        """Layout distance of thumbnail rows."""
        return self.appearance.appearance_distance(thumbnails)

    def texture_distance(self, vectors: np.ndarray) -> np.ndarray:
        """Texture distance of texture-vector rows."""
        return self.appearance.texture_distance(vectors)

    def global_distance(self, vectors: np.ndarray) -> np.ndarray:
        """Global-statistics distance of global-vector rows."""
        return self.appearance.global_distance(vectors)

    def distances(self, features: np.ndarray) -> np.ndarray:
        """Feature distance of each row."""
        return self.features.distances(features)

    def check_features(self, features: np.ndarray) -> list[OodVerdict]:
        """Feature-space check for a batch of pooled features."""
        return self.features.check_features(features)


class Gate(OodGate):
    """The classifier card's checks plus the view check, combined into one verdict.

    Attributes:
        view: The view check (``None`` only where a caller measures the card's checks alone).
    """

    def __init__(self, spec: Mapping[str, Any], view: ViewCheck | None) -> None:
        super().__init__(spec)
        self.view = view

    @property
    def confident_frontal(self) -> float | None:
        """The view card's ``confident_frontal_probability`` (see :meth:`combine`)."""
        return None if self.view is None else self.view.confident_frontal_probability

    @staticmethod
    def combine(
        image: OodVerdict,
        view: OodVerdict,
        appearance: OodVerdict,
        features: OodVerdict,
        confident_frontal: float | None = None,
    ) -> OodVerdict:
        """One verdict from every check's, by the agreement rule (:func:`agreement`).

        Every verdict is computed anyway (the model runs on the batch), so the feature
        distance and each check's value are reported even when an earlier check gave the
        reason. The first refusing verdict, in the order above, gives the reason; a film
        refused for two doubts says so. When the view check vouches, the distance checks'
        refusals become one caution. An accepted film that any check cautions about gets
        one caution: ``"unusual film: <each check's caution>: read with care"``.
        """
        verdicts = (image, view, appearance, features)
        values = {key: value for verdict in verdicts for key, value in verdict.values.items()}
        frontal = view.values.get("frontal_probability")
        distance = (appearance, features)
        refusing = [verdict for verdict in verdicts if verdict.out_of_distribution]
        # A refusing verdict that names no check still counts as one voice.
        refused_by = tuple(name for verdict, default in zip(distance, ("layout", "features"),
                                                            strict=True)
                           if verdict.out_of_distribution
                           for name in (verdict.refused_by or (default,)))
        outcome = agreement(
            image_refused=image.out_of_distribution,
            view_tier=(Tier.REFUSE if view.out_of_distribution else
                       Tier.CAUTION if view.caution else Tier.PASS),
            vouches=(confident_frontal is not None and frontal is not None
                     and frontal >= confident_frontal),
            refused_by=refused_by,
            unusual=any(verdict.caution for verdict in distance),
            all_vouchable=all(verdict.if_frontal for verdict in distance
                              if verdict.out_of_distribution),
        )
        if outcome is Tier.REFUSE:
            reason = (refusing[0].reason if refusing else TWO_DOUBTS_REASON.format(
                view=view.caution, other="; ".join(v.caution for v in distance if v.caution)))
            return OodVerdict(True, reason, features.distance, values=values,
                              refused_by=refused_by)
        cautions = [verdict.caution for verdict in verdicts if verdict.caution]
        if refusing:  # vouched for by the view check
            far = "; ".join(str(verdict.if_frontal) for verdict in refusing)
            cautions.append(f"far from the training films ({far}), but the view check is "
                            f"sure it is a whole frontal film ({frontal:.0%})")
        caution = CAUTION_PREFIX + "; ".join(cautions) + CAUTION_SUFFIX if cautions else None
        return OodVerdict(False, None, features.distance, caution=caution, values=values)


def agreement(*, image_refused: bool, view_tier: Tier, vouches: bool,
              refused_by: Sequence[str], unusual: bool, all_vouchable: bool = True) -> Tier:
    """The gate's rule: refuse, label with a caution, or label (module docstring).

    The one statement of the rule: :meth:`Gate.combine` applies it to a film's verdicts,
    site calibration (:mod:`desktop_app.core.site.site_gate`) to simulated limits and
    ``benchmarks/gate_loso.py`` to films of a source the gate never saw.

    Args:
        image_refused: The image statistics (or "no lung fields") refuse.
        view_tier: The view check's tier: refused below its minimum frontal probability,
            caution below its caution threshold (not sure).
        vouches: The view check calls the film frontal with the margin measured on held-out
            categories (frontal probability at least the card's
            ``confident_frontal_probability``).
        refused_by: The distance checks past their refusal limit.
        unusual: A distance check is past its usual limit (refusing or cautioning).
        all_vouchable: Every refusing distance check has a refusal limit (a card without
            one refuses as before).

    Returns:
        ``Tier.REFUSE``, ``Tier.CAUTION`` or ``Tier.PASS``.
    """
    if image_refused or view_tier is Tier.REFUSE:
        return Tier.REFUSE
    if refused_by:
        return Tier.CAUTION if vouches and all_vouchable else Tier.REFUSE
    if view_tier is Tier.CAUTION and unusual:  # two doubts
        return Tier.REFUSE
    return Tier.CAUTION if view_tier is Tier.CAUTION or unusual else Tier.PASS
