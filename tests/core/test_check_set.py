"""The non-chest check set shipped in resources/non_chest_check and its loader.

Site calibration relies on this folder in every build, so the tests check that the shipped
copy verifies, covers both halves and every category, that damage is reported with the file
named, and that the folder is exactly what the writer produces (no hand-edited image).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

from desktop_app.core.errors import LungLensError
from desktop_app.core.gate import CheckCase, check_set_dir, load_check_set
from desktop_app.core.gate.check_set import MANIFEST_FILE, CheckSetError
from desktop_app.core.imaging import load_image
from model_training.non_chest import CATEGORIES, SHIPPED_MAX_SIDE

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "resources" / "non_chest_check"


@pytest.fixture
def shipped_copy(tmp_path: Path) -> Path:
    """A copy of the shipped set that a test may damage."""
    return Path(shutil.copytree(SHIPPED, tmp_path / "check"))


def test_check_set_dir_is_the_shipped_folder() -> None:
    assert check_set_dir().resolve() == SHIPPED.resolve()


def test_shipped_set_verifies_and_covers_both_halves_and_every_category() -> None:
    cases = load_check_set()
    assert all(isinstance(case, CheckCase) for case in cases)
    assert len(cases) >= 200
    manifest = json.loads((SHIPPED / MANIFEST_FILE).read_text(encoding="utf-8"))
    assert manifest["categories"] == list(CATEGORIES)
    for half in (False, True):
        present = {case.category for case in cases if case.held_out is half}
        assert present == set(manifest["categories"]), f"held_out={half}: {sorted(present)}"
    assert all(case.description and case.group for case in cases)
    listed = {case.path.resolve() for case in cases}
    on_disk = {path.resolve() for path in SHIPPED.rglob("*")
               if path.is_file() and path.name != MANIFEST_FILE}
    assert on_disk == listed, f"files not in the manifest: {sorted(on_disk - listed)}"
    assert manifest["max_side"] == SHIPPED_MAX_SIDE
    assert manifest["count"] == len(cases)


def test_shipped_images_respect_the_max_side_and_load() -> None:
    for case in load_check_set(verify=False)[::7]:  # every 7th: all formats, a second or two
        loaded = load_image(case.path)
        assert max(loaded.pixels.shape[:2]) <= SHIPPED_MAX_SIDE, case.path


def test_a_damaged_file_is_named(shipped_copy: Path) -> None:
    victim = shipped_copy / "screenshot" / "viewer.png"
    victim.write_bytes(victim.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(CheckSetError, match=r"viewer\.png") as raised:
        load_check_set(shipped_copy)
    assert "damaged" in str(raised.value)
    assert raised.value.path == victim
    assert isinstance(raised.value, LungLensError)
    assert len(load_check_set(shipped_copy, verify=False)) == len(load_check_set())


def test_a_missing_file_is_named(shipped_copy: Path) -> None:
    (shipped_copy / "ct_mr" / "CT_small.dcm").unlink()
    with pytest.raises(CheckSetError, match=r"'ct_mr/CT_small\.dcm'.*missing"):
        load_check_set(shipped_copy)


def test_a_missing_or_broken_manifest_is_reported(shipped_copy: Path) -> None:
    manifest = shipped_copy / MANIFEST_FILE
    manifest.write_text("{not json", encoding="utf-8")
    with pytest.raises(CheckSetError, match="not valid JSON"):
        load_check_set(shipped_copy)
    manifest.write_text(json.dumps({"files": [{"path": "../escape.png"}]}), encoding="utf-8")
    with pytest.raises(CheckSetError, match="entry 0 needs the keys"):
        load_check_set(shipped_copy)
    manifest.unlink()
    with pytest.raises(CheckSetError, match="manifest is missing"):
        load_check_set(shipped_copy)


def test_a_path_outside_the_folder_is_refused(shipped_copy: Path) -> None:
    manifest = shipped_copy / MANIFEST_FILE
    document = json.loads(manifest.read_text(encoding="utf-8"))
    document["files"][0]["path"] = "../outside.png"
    manifest.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(CheckSetError, match=r"outside the folder: '\.\./outside\.png'"):
        load_check_set(shipped_copy, verify=False)


def test_writer_refuses_to_replace_a_folder_that_is_not_a_check_set(tmp_path: Path) -> None:
    from model_training.non_chest import write_shipped_set

    (tmp_path / "notes.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(ValueError, match="refusing to replace"):
        write_shipped_set(tmp_path)
    assert (tmp_path / "notes.txt").is_file()


@pytest.mark.skipif(importlib.util.find_spec("skimage") is None
                    or importlib.util.find_spec("matplotlib") is None,
                    reason="writing the check set needs scikit-image and matplotlib "
                           "(a development install); the shipped copy cannot be re-derived")
def test_shipped_set_is_what_the_writer_produces(tmp_path: Path) -> None:
    from model_training.non_chest import write_shipped_set

    written = write_shipped_set(tmp_path / "again")
    shipped = json.loads((SHIPPED / MANIFEST_FILE).read_text(encoding="utf-8"))
    again = json.loads((tmp_path / "again" / MANIFEST_FILE).read_text(encoding="utf-8"))
    assert len(written) == shipped["count"]
    differing = [f"{a['path']} ({a['sha256'][:12]} != {b['sha256'][:12]})"
                 for a, b in zip(again["files"], shipped["files"], strict=False) if a != b]
    assert not differing, ("the shipped set is stale; re-create it with python -m "
                           "model_training.non_chest --shipped resources/non_chest_check: "
                           f"{differing}")
    assert again == shipped
