"""Re-create the shipped non-chest check set: generated images plus the real ones allowed.

``python scripts/write_check_set.py [--non-chest ../shared/datasets/views/non_chest]
[--out resources/non_chest_check]``

Site calibration brakes every limit it moves by this set (``desktop_app/core/site/site_gate.py``),
so it holds what the gate must refuse: the generated images of
``model_training/non_chest/`` and, since 2026-12-07, the real CT, MR and
ultrasound images of ``views/non_chest`` whose licence allows shipping (``use`` = training or
evaluation; CC BY-NC images never ship). Their half follows the view model's split by case
(:func:`model_training.non_chest_images.read_non_chest`): held-out cases in the held-out half.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from model_training.non_chest import OodCase, write_shipped_set
from model_training.non_chest_images import read_non_chest

ROOT = Path(__file__).resolve().parents[1]
#: Check-set category of each real kind.
REAL_CATEGORIES = {"ct": "ct_real", "mr": "mr_real", "us": "ultrasound_real"}


#: Attribution of each collection (its licence requires it; views/non_chest/README.md).
CREDITS = {
    "nysbu": "CC BY 4.0, TCIA COVID-19-NY-SBU (Saltz et al. 2021, doi:10.7937/TCIA.BBAG-2923)",
    "lungpetctdx": "CC BY 4.0, TCIA Lung-PET-CT-Dx (Li et al. 2020, "
                   "doi:10.7937/TCIA.2020.NNC2-0461)",
    "vqarad": "CC0 1.0, VQA-RAD (Lau et al., Scientific Data 2018)",
    "pocus": "POCOVID lung-ultrasound collection (Born et al. 2020), licence per file",
}


def real_cases(folder: Path) -> list[OodCase]:
    """The shippable real images of a non-chest folder as check-set cases."""
    return [OodCase(image.path, REAL_CATEGORIES[image.family],
                    f"{image.description}; {image.licence}; "
                    f"{CREDITS.get(image.source, image.source)}"
                    + (f"; {image.notes}" if image.source == "pocus" and image.notes else ""),
                    image.held_out, image.case_id)
            for image in read_non_chest(folder) if image.trainable]


def main(argv: list[str] | None = None) -> int:
    """Write the check set and print its counts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--non-chest", type=Path,
                        default=ROOT.parent / "shared" / "datasets" / "views" / "non_chest")
    parser.add_argument("--out", type=Path, default=ROOT / "resources" / "non_chest_check")
    args = parser.parse_args(argv)
    cases = write_shipped_set(args.out, extra=real_cases(args.non_chest))
    print(f"{len(cases)} images ({sum(c.held_out for c in cases)} held out) in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
