"""The check set that ships in ``resources/non_chest_check/``.

The generated images (and real ones) reduced in their own format and hashed in a manifest.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from desktop_app.core.gate.check_set import MANIFEST_FILE
from desktop_app.core.hashing import sha256_file
from desktop_app.core.imaging import MIN_SIDE
from model_training.non_chest.cases import CATEGORIES, OodCase, write_ood_cases

#: Longest side of every image in the shipped check set (pixels). Noise and photos hardly
#: compress: at 512 px the folder takes 21 MB, at 320 px 9.6 MB, at 256 px 6.4 MB on disk
#: (5.9 MB of bytes), within its ~6 MB budget. The model looks at a 192 px input, so 256 px
#: still gives it more pixels than it uses, and each image keeps its content and proportions.
SHIPPED_MAX_SIDE = 256
_SHIPPED_FORMAT = "lunglens-non-chest-check-1"


def write_shipped_set(folder: Path, *, max_side: int = SHIPPED_MAX_SIDE) -> list[OodCase]:
    """Write the check set that ships in ``resources/non_chest_check/``: reduced, hashed.

    Every generated image is reduced so its longest side is at most ``max_side`` (smaller
    ones are copied byte for byte) and keeps its format: a DICOM file stays DICOM (its pixels
    resampled and stored deflated), PNG stays PNG, JPEG stays JPEG. ``manifest.json`` lists
    each file with its category, description, half, group and sha256, which is what
    :func:`desktop_app.core.gate.check_set.load_check_set` verifies. The same packages write
    the same bytes, so a test can regenerate the folder and compare the hashes.

    Args:
        folder: The output folder. An existing check set there (a folder with a manifest)
            is replaced; any other non-empty folder is refused.
        max_side: Longest side in pixels.

    Returns:
        The cases, with paths inside ``folder``.

    Raises:
        ValueError: If ``max_side`` is below the loader's minimum, or ``folder`` is a
            non-empty folder that is not a check set.
    """
    if max_side < 4 * MIN_SIDE:
        raise ValueError(f"max_side must be at least {4 * MIN_SIDE} so that narrow images "
                         f"keep {MIN_SIDE} px. Received: {max_side!r}")
    folder = Path(folder)
    _empty_check_set_folder(folder)
    with tempfile.TemporaryDirectory(prefix="non-chest-") as work:
        cases, entries = _write_reduced(write_ood_cases(Path(work)), folder, max_side)
    manifest = _manifest(entries, max_side)
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1, ensure_ascii=False)
                                        + "\n", encoding="utf-8")
    return cases


def _empty_check_set_folder(folder: Path) -> None:
    """Create ``folder`` empty: remove an earlier check set there, refuse any other content."""
    if folder.is_dir() and any(folder.iterdir()):
        if not (folder / MANIFEST_FILE).is_file():
            raise ValueError(f"refusing to replace {str(folder)!r}: it is not empty and has "
                             f"no {MANIFEST_FILE}")
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)


def _write_reduced(generated: Sequence[OodCase], folder: Path,
                   max_side: int) -> tuple[list[OodCase], list[dict[str, object]]]:
    """Reduce each case into ``folder/<category>/``: the shipped cases and manifest entries."""
    cases = []
    entries = []
    for case in generated:
        relative = f"{case.category}/{case.path.name}"
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        _reduce(case.path, target, max_side)
        cases.append(OodCase(target, case.category, case.description, case.held_out,
                             case.group))
        entries.append({"path": relative, "category": case.category,
                        "description": case.description, "held_out": case.held_out,
                        "group": case.group, "sha256": sha256_file(target)})
    return cases, entries


def _manifest(entries: list[dict[str, object]], max_side: int) -> dict[str, object]:
    """The manifest document: format, notes, categories, counts and the files' entries."""
    return {
        "format": _SHIPPED_FORMAT,
        # The command's old name stays: model cards record the sha256 of this manifest
        # (desktop_app/core/site/check_set_record.py), so changing the text would make every
        # card's check-set record stale. The writer is now python -m model_training.non_chest.
        "description": "Images that are not frontal chest X-rays, which the gate must refuse; "
                       "written by python -m desktop_app.core.gate.non_chest_cases --shipped",
        "max_side": max_side,
        "max_side_note": "every image reduced so its longest side is at most max_side px "
                         "(smaller images copied unchanged); DICOM stays DICOM, PNG and JPEG "
                         "keep their format",
        "categories": list(CATEGORIES),
        "count": len(entries),
        "held_out_count": sum(entry["held_out"] for entry in entries),
        "files": entries,
    }


def _reduced_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    scale = max_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _reduce(source: Path, target: Path, max_side: int) -> None:
    """Copy ``source`` to ``target``, reduced to ``max_side`` if larger, in its own format."""
    if source.suffix.lower() == ".dcm":
        _reduce_dicom(source, target, max_side)
        return
    with Image.open(source) as image:
        if max(image.size) <= max_side:
            shutil.copyfile(source, target)
            return
        image.load()
        if image.mode not in ("L", "RGB"):
            image = image.convert("RGB")
        small = image.resize(_reduced_size(*image.size, max_side), Image.Resampling.LANCZOS)
    if target.suffix.lower() in (".jpg", ".jpeg"):
        small.save(target, quality=90)  # no optimize/progressive: plain baseline, stable bytes
    else:
        small.save(target, optimize=True)


def _reduce_dicom(source: Path, target: Path, max_side: int) -> None:
    """Resample a DICOM's (first frame's) pixels and store them uncompressed, deflated.

    The header is kept (UIDs, modality, LUTs), so the file still reads as the same study;
    overlays are dropped (their planes would no longer match the image size).
    """
    import pydicom
    from pydicom.uid import DeflatedExplicitVRLittleEndian

    dataset = pydicom.dcmread(source)
    rows, columns = int(dataset.Rows), int(dataset.Columns)
    if max(rows, columns) <= max_side:
        shutil.copyfile(source, target)
        return
    pixels = dataset.pixel_array
    if int(dataset.get("NumberOfFrames", 1) or 1) > 1:
        pixels = pixels[0]
    width, height = _reduced_size(columns, rows, max_side)
    photometric = str(dataset.PhotometricInterpretation)
    if pixels.ndim == 3:  # colour: the decoder returned RGB whatever the stored encoding
        small = np.asarray(Image.fromarray(pixels.astype(np.uint8), "RGB").resize(
            (width, height), Image.Resampling.LANCZOS))
        dataset.PhotometricInterpretation = "RGB"
        dataset.PlanarConfiguration = 0
    elif photometric == "PALETTE COLOR" or int(dataset.BitsAllocated) == 1:
        # indices into a palette, or a binary mask: never interpolate between values
        small = np.asarray(Image.fromarray(pixels.astype(np.int32)).resize(
            (width, height), Image.Resampling.NEAREST)).astype(pixels.dtype)
    else:
        resized = np.asarray(Image.fromarray(pixels.astype(np.float32)).resize(
            (width, height), Image.Resampling.LANCZOS), dtype=np.float64)
        small = np.clip(np.rint(resized), pixels.min(), pixels.max()).astype(pixels.dtype)
    # keys(), not iteration: iterating a dataset decodes every raw element, which changes the
    # bytes written for some of them (the shipped files would then differ from a re-run).
    overlays = [tag for tag in dataset.keys() if 0x6000 <= tag.group <= 0x601E]  # noqa: SIM118
    for tag in overlays:
        del dataset[tag]
    if "NumberOfFrames" in dataset:
        dataset.NumberOfFrames = 1
    dataset.Rows, dataset.Columns = height, width
    if int(dataset.BitsAllocated) == 1:
        from pydicom.pixels import pack_bits

        dataset.PixelData = pack_bits(small)
    else:
        dataset.PixelData = np.ascontiguousarray(small).tobytes()
    dataset["PixelData"].VR = "OW" if int(dataset.BitsAllocated) > 8 else "OB"
    dataset.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    dataset.save_as(target, enforce_file_format=True)
