"""The checks that run before the model: cheap image statistics and appearance distances.

1. **Cheap image checks**: colour content, aspect ratio, large perfectly uniform areas and few
   grey levels (screenshots, charts, documents). Thresholds are fitted on the training X-rays
   and stored in the card.
2. **Appearance distance**: a probabilistic-PCA Mahalanobis distance of a 16x16 thumbnail of
   the preprocessed image to the training X-rays' thumbnails (layout), with two companions
   (optional card sections) that catch what a 16x16 average cannot see: **global statistics**
   scored with a full-covariance distance, so one extreme value (the sharpness of pixel noise,
   the entropy of a two-level chart) stands out, and a **texture** model for photos of
   textured surfaces, noise and modalities with speckle. A one-number **orientation** check
   (the bright mediastinum must run top to bottom) refuses films turned by 90°.

Each distance check (and orientation) may have a refusal limit in the card
(``ood.refusal_limits``): a film between its usual limit and the refusal limit is labelled
with a caution instead of refused (:func:`desktop_app.core.gate.verdict.tier`). The cheap
image checks always refuse: a colour photo or a chart is never an unusual film.

None of them depends on what the classifier learned, so they keep working when a clinic
retrains. Measured in ``docs/ood_evaluation.md`` (``benchmarks/ood_eval.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from desktop_app.core.gate.ppca import PpcaModel, ppca_distance
from desktop_app.core.gate.vectors import (
    ImageStatistics,
    global_from_maps,
    image_maps,
    orientation_score,
    texture_from_maps,
    thumbnail_vector,
)
from desktop_app.core.gate.verdict import OodVerdict, Tier, tier

__all__ = ["AppearanceChecks"]

_REASONS = {
    "layout": "the image layout does not look like a frontal chest X-ray (appearance "
              "distance {d:.2f}, limit {t:.2f}); lateral view, other body part, "
              "CT/MR slice or not a radiograph?",
    "orientation": "the film looks turned sideways or is not a frontal chest X-ray: "
                   "the bright mediastinum between the lungs should run top to bottom "
                   "(orientation score {nd:.2f}, at least {nt:.2f})",
    "global": "brightness, contrast and sharpness are unlike a chest X-ray (global "
              "distance {d:.2f}, limit {t:.2f}); photo, noise, drawing or another "
              "kind of image?",
    "texture": "the image texture is unlike a chest X-ray (texture distance {d:.2f}, "
               "limit {t:.2f}); photo, noise, ultrasound or another kind of image?",
}

_CAUTIONS = {
    "layout": "unusual layout (appearance distance {d:.2f}; usual up to {t:.2f})",
    "orientation": "unusual orientation (orientation score {nd:.2f}; usual at least {nt:.2f})",
    "global": "unusual brightness, contrast or sharpness (global distance {d:.2f}; usual up "
              "to {t:.2f})",
    "texture": "unusual texture (texture distance {d:.2f}; usual up to {t:.2f})",
}


class AppearanceChecks:
    """Applies the pre-model part of a card's (validated) ``ood`` section."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.max_colourfulness = float(spec["max_colourfulness"])
        self.max_aspect = float(spec["max_aspect"])
        self.max_uniform_fraction = float(spec["max_uniform_fraction"])
        self.min_gray_levels = int(spec["min_gray_levels"])
        appearance = spec.get("appearance")
        self._appearance = None
        if appearance:
            self._appearance = (
                np.asarray(appearance["mean"], dtype=np.float64),
                np.asarray(appearance["components"], dtype=np.float64),
                np.asarray(appearance["variances"], dtype=np.float64),
                float(appearance["residual_variance"]),
                float(appearance["distance_threshold"]),
            )
        # Optional companions of the layout check (cards written before them lack them).
        self._texture = PpcaModel.from_spec(spec.get("texture"))
        self._global = PpcaModel.from_spec(spec.get("global"))
        orientation = spec.get("orientation")
        self._min_orientation = float(orientation["min_score"]) if orientation else None
        limits = dict(spec.get("refusal_limits") or {})
        #: Refusal limits in the space of :meth:`appearance_distances` (orientation negated).
        self.refusal_limits: dict[str, float] = {
            name: (-float(limits[name]) if name == "orientation" else float(limits[name]))
            for name in _CAUTIONS if name in limits}

    def check_image(self, stats: ImageStatistics) -> OodVerdict:
        """Cheap checks on the loaded image's statistics.

        The verdict's ``values`` hold the four statistics whatever the outcome, so site
        calibration (:mod:`desktop_app.core.site.site_gate`) can tell how far a site's films are
        from the aspect and flat-area limits.
        """
        values = {"colourfulness": float(stats.colourfulness), "aspect": float(stats.aspect),
                  "gray_levels": float(stats.gray_levels),
                  "uniform_fraction": float(stats.uniform_fraction)}
        if stats.colourfulness > self.max_colourfulness:
            return OodVerdict(
                True,
                f"colour image (colourfulness {stats.colourfulness:.1f}, X-rays are grayscale: "
                f"at most {self.max_colourfulness:.1f}); looks like a photo or screenshot",
                values=values,
            )
        if stats.aspect > self.max_aspect:
            return OodVerdict(
                True,
                f"aspect ratio {stats.aspect:.2f}:1 is not that of a frontal chest X-ray "
                f"(at most {self.max_aspect:.2f}:1)",
                values=values,
            )
        if stats.gray_levels < self.min_gray_levels:
            return OodVerdict(
                True,
                f"only {stats.gray_levels} grey levels (a radiograph has at least "
                f"{self.min_gray_levels}); looks like a chart, drawing or document",
                values=values,
            )
        if stats.uniform_fraction > self.max_uniform_fraction:
            return OodVerdict(
                True,
                f"{stats.uniform_fraction:.0%} of the image is one flat value (at most "
                f"{self.max_uniform_fraction:.0%} in chest X-rays); looks like a screenshot, "
                "chart or document",
                values=values,
            )
        return OodVerdict(False, None, values=values)

    def texture_distance(self, vectors: np.ndarray) -> np.ndarray:
        """Distance of texture-vector rows to the training X-rays (zeros if unfitted)."""
        vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float64))
        return self._texture.distance(vectors) if self._texture else np.zeros(len(vectors))

    def global_distance(self, vectors: np.ndarray) -> np.ndarray:
        """Distance of global-vector rows to the training X-rays (zeros if unfitted)."""
        vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float64))
        return self._global.distance(vectors) if self._global else np.zeros(len(vectors))

    def appearance_distance(self, thumbnails: np.ndarray) -> np.ndarray:
        """Probabilistic-PCA Mahalanobis distance of thumbnails to the training X-rays.

        Returns:
            One distance per row (zeros when the card has no appearance statistics).
        """
        thumbnails = np.atleast_2d(np.asarray(thumbnails, dtype=np.float64))
        if self._appearance is None:
            return np.zeros(len(thumbnails))
        return ppca_distance(*self._appearance[:4], thumbnails)

    def appearance_distances(self, prepared: np.ndarray) -> dict[str, tuple[float, float]]:
        """Each fitted pre-model check's ``(distance, limit)`` for one preprocessed image.

        Keys: ``"layout"``, ``"orientation"``, ``"global"``, ``"texture"`` (those the card
        has); a check fires when its distance exceeds its limit. For ``"orientation"`` the
        pair is ``(-score, -min_score)`` of :func:`orientation_score`. Used by the evaluation
        to report which check fired; :meth:`check_appearance` applies them.
        """
        out: dict[str, tuple[float, float]] = {}
        maps = image_maps(prepared) if (self._global or self._texture
                                        or self._min_orientation is not None) else None
        vector = global_from_maps(maps) if maps is not None else None
        if self._appearance is not None:
            thumbnail = maps.thumbnail if maps is not None else thumbnail_vector(prepared)
            out["layout"] = (float(self.appearance_distance(thumbnail)[0]), self._appearance[4])
        if self._min_orientation is not None and vector is not None:
            out["orientation"] = (-float(orientation_score(vector)[0]), -self._min_orientation)
        if self._global is not None and vector is not None:
            out["global"] = (float(self._global.distance(vector[None])[0]),
                             self._global.threshold)
        if self._texture is not None:
            out["texture"] = (float(self._texture.distance(texture_from_maps(maps)[None])[0]),
                              self._texture.threshold)
        return out

    def check_appearance(self, prepared: np.ndarray) -> OodVerdict:
        """The appearance checks on the preprocessed image (before the model).

        Layout first (its reason is the most telling), then orientation, global statistics
        and texture: the first check that refuses gives the reason, and ``refused_by`` names
        every check that refuses (the gate's agreement rule counts them). When none refuses,
        every check between its two limits adds its caution. The verdict's ``values`` hold
        each check's value (orientation: its score).
        """
        distances = self.appearance_distances(prepared)
        values = {name: (-distance if name == "orientation" else distance)
                  for name, (distance, _limit) in distances.items()}
        cautions, refusals, vouched = [], [], []
        for name, (distance, limit) in distances.items():
            words = {"d": distance, "t": limit, "nd": -distance, "nt": -limit}
            outcome = tier(distance, limit, self.refusal_limits.get(name))
            if outcome is Tier.REFUSE:
                refusals.append((name, _REASONS[name].format(**words)))
                # Only with a refusal limit is "far past the usual limit" a caution when the
                # view check vouches for the film; a card without one refuses as before.
                if name in self.refusal_limits and np.isfinite(distance):
                    vouched.append(_CAUTIONS[name].format(**words))
            elif outcome is Tier.CAUTION:
                cautions.append(_CAUTIONS[name].format(**words))
        if refusals:
            every_one_vouchable = len(vouched) == len(refusals)
            return OodVerdict(True, refusals[0][1], values=values,
                              if_frontal="; ".join(vouched) if every_one_vouchable else None,
                              refused_by=tuple(name for name, _ in refusals))
        return OodVerdict(False, None, caution="; ".join(cautions) or None, values=values)
