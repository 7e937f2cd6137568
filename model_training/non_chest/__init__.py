"""A labelled evaluation set of images that are *not* frontal chest X-rays.

The out-of-distribution gate (:mod:`desktop_app.core.gate`) must refuse to label photos,
screenshots, charts, documents, noise, CT/MR slices, other radiographs and views. Measuring
that needs such images, and a clinic workstation (and CI) has no network, so every image here
is written from what the installed packages ship (scikit-image's bundled sample images,
matplotlib's sample data, pydicom's test files) or drawn with Pillow and numpy; application
screenshots are drawn with Pillow too, since the core may not import Qt. The set is
deterministic: the same packages write the same pixels.

Writing the set needs scikit-image and matplotlib (lazy imports: a development install), so
it lives in ``model_training`` and neither build ships it; the program ships a reduced copy
instead: :func:`write_shipped_set` writes
``resources/non_chest_check/`` with a manifest, which
:func:`desktop_app.core.gate.check_set.load_check_set` reads in every build.

:func:`write_ood_cases` writes the images into a folder and returns one :class:`OodCase` per
file. Each case belongs to a *group* (one source photo with its crops, one noise recipe, one
synthetic anatomy ...) and groups alternate between a development half and a **held-out half**
(``OodCase.held_out``): any change to the gate may be tried on the development half only, and
the figure that is reported is the held-out one, so the set is not used to tune and to score.

Which transforms of a chest film count as out of distribution (documented decisions):

* **90° / 270° rotation: OOD.** A frontal film is never read sideways; the lungs are then
  stacked vertically, a layout the model has never seen, and its probabilities are meaningless.
* **Lateral view: OOD.** The issue names it; the model is trained on PA/AP films only.
* **180° rotation and left-right mirroring: not in this set.** An upside-down or mirrored
  frontal film (a wrongly hung scan, dextrocardia, a swapped L/R marker) is still a frontal
  chest X-ray; whether to label it is a separate question, so it counts neither way here.
* **The upright synthetic radiograph**
(:func:`desktop_app.core.classify.synthetic.synthetic_radiograph`)
  is not a real X-ray, so it counts neither way either.

One module per kind of image (:mod:`.photos`, :mod:`.charts_documents`, :mod:`.screenshots`,
:mod:`.noise`, :mod:`.ct_mr`, :mod:`.medical_other`, :mod:`.chest_views`), drawn with
:mod:`.drawing`; :mod:`.cases` writes the set, :mod:`.shipped` the check set.

Run ``python -m model_training.non_chest OUT_DIR`` to write the set and print the counts,
``... --shipped resources/non_chest_check`` to re-create the shipped check set.
"""

from __future__ import annotations

from model_training.non_chest.cases import (
    CATEGORIES,
    OodCase,
    write_ood_cases,
    write_rotated_cxrs,
)
from model_training.non_chest.shipped import SHIPPED_MAX_SIDE, write_shipped_set

__all__ = [
    "CATEGORIES",
    "SHIPPED_MAX_SIDE",
    "OodCase",
    "write_ood_cases",
    "write_rotated_cxrs",
    "write_shipped_set",
]
