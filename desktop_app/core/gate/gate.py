"""One gate that combines every check and words the reason an image is refused.

A classifier always answers with one of its classes, even for a holiday photo or a lateral
film. LungLens shows a label only when every check agrees the image is a frontal chest film:

1. cheap image statistics (:mod:`~desktop_app.core.gate.appearance`), before anything else;
2. the **view check** (:mod:`~desktop_app.core.gate.view`), a small model shipped with the
   program that knows real lateral films, films turned by 90°, crops and other images;
3. the appearance distances of the preprocessed image (layout, orientation, global
   statistics, texture), fitted on the classifier's training images;
4. the feature distance of the classifier (:mod:`~desktop_app.core.gate.features`).

The first check that fires gives the reason: the earlier ones name the more specific cause
("colour image", "lateral view") and the later ones the more general one ("unlike the chest
X-rays the model was trained on"). Checks 1, 3 and 4 come from the classifier's card (its
``ood`` section, :mod:`~desktop_app.core.gate.spec`); check 2 does not depend on the
classifier, so a clinic that retrains keeps it.

Refusal is kept for what is clearly not a whole frontal chest film. A check with a second,
wider limit in its card (``ood.refusal_limits``, the view card's
``caution_frontal_probability``) labels a film between its two limits **with a caution**:
an unusual but real frontal film (a portable ICU film with lines and tubes, a slightly
rotated one) gets its answer and the reader is told why to read it with care. The image
statistics and "no lung fields found" always refuse.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from desktop_app.core.gate.appearance import AppearanceChecks
from desktop_app.core.gate.features import FeatureDistance
from desktop_app.core.gate.spec import usual_limits, validate_ood_spec
from desktop_app.core.gate.vectors import ImageStatistics
from desktop_app.core.gate.verdict import OodVerdict
from desktop_app.core.gate.view import ViewCheck

__all__ = ["CAUTION_PREFIX", "CAUTION_SUFFIX", "Gate", "OodGate"]

CAUTION_PREFIX = "unusual film: "
CAUTION_SUFFIX = ": read with care"


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
        """The first verdict that refuses (in the order above), else every check's caution.

        Every verdict is computed anyway (the model runs on the batch), so the feature
        distance and each check's value are reported even when an earlier check gave the
        reason. An accepted film that any check cautions about gets one caution:
        ``"unusual film: <each check's caution>: read with care"``.

        With ``confident_frontal`` (the view card's ``confident_frontal_probability``), a
        film the view check is at least that sure is a whole frontal chest film is not
        refused by the distance checks alone: being far from the training films says the
        film is unusual (a ward film with lines and tubes, another hospital's processing),
        not that it is no chest film, and the view check is the one trained to tell. Their
        refusal becomes a caution (``OodVerdict.if_frontal``). The image checks, the view
        check itself and "no lung fields" still refuse. Measured leave-one-source-out in
        docs/ood_evaluation.md: every non-chest image stays refused.
        """
        verdicts = (image, view, appearance, features)
        values = {key: value for verdict in verdicts for key, value in verdict.values.items()}
        frontal = view.values.get("frontal_probability")
        vouched = (confident_frontal is not None and frontal is not None
                   and frontal >= confident_frontal)
        vouched_cautions = []
        for verdict in verdicts:
            if verdict.out_of_distribution:
                if vouched and verdict.if_frontal:
                    vouched_cautions.append(verdict.if_frontal)
                    continue
                return OodVerdict(True, verdict.reason, features.distance, values=values)
        cautions = [verdict.caution for verdict in verdicts if verdict.caution]
        if vouched_cautions:
            cautions.append(f"far from the training films ({'; '.join(vouched_cautions)}), but "
                            f"the view check is sure it is a whole frontal film ({frontal:.0%})")
        caution = CAUTION_PREFIX + "; ".join(cautions) + CAUTION_SUFFIX if cautions else None
        return OodVerdict(False, None, features.distance, caution=caution, values=values)
