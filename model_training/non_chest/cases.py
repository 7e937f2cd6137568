"""The categories, :class:`OodCase` and the writers of the evaluation set.

:func:`write_ood_cases` writes every category's images (each kind in its own module) and
splits them by group into a development half and a held-out half; :func:`write_rotated_cxrs`
turns real frontal films by 90° for the measurements.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model_training.non_chest.charts_documents import chart_specs, document_specs
from model_training.non_chest.chest_views import cxr_transformed_specs
from model_training.non_chest.ct_mr import ct_mr_specs
from model_training.non_chest.drawing import Spec, save
from model_training.non_chest.medical_other import medical_other_specs
from model_training.non_chest.noise import noise_specs
from model_training.non_chest.photos import photo_colour_specs, photo_gray_specs
from model_training.non_chest.screenshots import screenshot_specs

#: Category names, in the order they are written.
CATEGORIES: tuple[str, ...] = (
    "photo_colour",
    "photo_gray",
    "chart",
    "document",
    "screenshot",
    "noise",
    "ct_mr",
    "medical_other",
    "cxr_transformed",
)


@dataclass(frozen=True)
class OodCase:
    """One evaluation image.

    Attributes:
        path: The written file.
        category: One of :data:`CATEGORIES`.
        description: What the image is, for the report.
        held_out: True for the half used for the reported figure (never for tuning).
        group: The source the image was derived from; all images of a group share a half so
            that a crop of a photo cannot leak its sibling's result across halves.
    """

    path: Path
    category: str
    description: str
    held_out: bool = False
    group: str = ""


def write_ood_cases(
    folder: Path,
    *,
    limit_per_category: int | None = None,
    categories: Sequence[str] | None = None,
    held_out_only: bool = False,
) -> list[OodCase]:
    """Write the non-chest-X-ray evaluation images into ``folder``.

    Args:
        folder: Output folder (created; one sub-folder per category).
        limit_per_category: Write only the first N images of each category (tests).
        categories: Subset of :data:`CATEGORIES` (default: all).
        held_out_only: Write only the held-out half (the reported figure; half the time).

    Returns:
        The written cases, in a stable order.

    Raises:
        ValueError: If a category name is unknown or the limit is below 1.
    """
    chosen = tuple(categories) if categories is not None else CATEGORIES
    unknown = sorted(set(chosen) - set(CATEGORIES))
    if unknown:
        raise ValueError(f"unknown categories {unknown}; known: {list(CATEGORIES)}")
    if limit_per_category is not None and limit_per_category < 1:
        raise ValueError(f"limit_per_category must be >= 1. Received: {limit_per_category!r}")
    folder = Path(folder)
    cases: list[OodCase] = []
    for category in chosen:
        target = folder / category
        target.mkdir(parents=True, exist_ok=True)
        groups: dict[str, int] = {}
        for index, spec in enumerate(_GENERATORS[category]()):
            if limit_per_category is not None and index >= limit_per_category:
                break
            path = target / spec.name
            held_out = groups.setdefault(spec.group, len(groups)) % 2 == 1
            if held_out_only and not held_out:
                continue
            spec.write(path)
            cases.append(OodCase(path, category, spec.description, held_out, spec.group))
    return cases


def write_rotated_cxrs(folder: Path, sources: Sequence[Path], *,
                       held_out_only: bool = False) -> list[OodCase]:
    """Write real frontal films rotated by 90° into ``folder`` (category ``cxr_rotated``).

    Used by ``benchmarks/ood_eval.py`` with TRAIN-split images from the real dataset: the
    rotated copies live only in a temporary folder, never in the repository. Alternate files
    are rotated clockwise and counter-clockwise; alternate pairs are held out.
    """
    from desktop_app.core.imaging import load_image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cases = []
    for index, source in enumerate(sources):
        held_out = (index // 2) % 2 == 1
        if held_out_only and not held_out:
            continue
        pixels = load_image(source).pixels
        rotated = np.rot90(pixels, -1 if index % 2 == 0 else 1)
        path = folder / f"{Path(source).stem}_rot{90 if index % 2 == 0 else 270}.png"
        save(rotated, path)
        cases.append(OodCase(path, "cxr_rotated",
                             f"real TRAIN-split frontal film rotated "
                             f"{90 if index % 2 == 0 else 270}°", held_out,
                             Path(source).stem))
    return cases


_GENERATORS: dict[str, Callable[[], Iterator[Spec]]] = {
    "photo_colour": photo_colour_specs,
    "photo_gray": photo_gray_specs,
    "chart": chart_specs,
    "document": document_specs,
    "screenshot": screenshot_specs,
    "noise": noise_specs,
    "ct_mr": ct_mr_specs,
    "medical_other": medical_other_specs,
    "cxr_transformed": cxr_transformed_specs,
}
