from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from desktop_app.core.errors import ModelBundleError
from desktop_app.core.model.model_bundle import load_bundle
from desktop_app.core.model.model_card import ModelCard


@pytest.fixture
def bundle_copy(tiny_bundle: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(tiny_bundle, tmp_path / "model"))


def edit_card(folder: Path, **changes: object) -> None:
    path = folder / "model_card.json"
    data = json.loads(path.read_text())
    for key, value in changes.items():
        if value is None:
            data.pop(key)
        else:
            data[key] = value
    path.write_text(json.dumps(data))


def test_valid_bundle_loads_and_round_trips(bundle_copy: Path) -> None:
    bundle = load_bundle(bundle_copy)
    assert bundle.card.classes == ["Normal", "Pneumonia", "COVID-19"]
    again = ModelCard.from_dict(bundle.card.to_dict())
    assert again == bundle.card


def test_tampered_model_file_is_refused(bundle_copy: Path) -> None:
    with (bundle_copy / "model.tflite").open("ab") as handle:
        handle.write(b"\0")
    with pytest.raises(ModelBundleError, match=r"sha256 of 'model.tflite'.*corrupted"):
        load_bundle(bundle_copy)


def test_missing_model_file_is_refused(bundle_copy: Path) -> None:
    (bundle_copy / "model.keras").unlink()
    with pytest.raises(ModelBundleError, match=r"'model\.keras' listed in the model card is"):
        load_bundle(bundle_copy)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"temperature": None}, r"missing field\(s\) \['temperature'\]"),
        ({"classes": "Normal"}, "'classes' has the wrong type"),
        ({"schema_version": 99}, "schema_version 99"),
        ({"temperature": 0.0}, "temperature"),
        ({"classes": ["Normal", "Normal", "COVID-19"]}, "duplicates"),
        ({"preprocessing": {"input_size": 32, "resize": "zoom"}}, "'zoom'"),
        ({"decision": {"priority": [], "thresholds": {}}}, "min_confidence"),
        ({"ood": {"method": "x"}}, "ood section is missing"),
        ({"files": {"model.tflite": "abc"}}, "sha256"),
    ],
)
def test_invalid_cards_are_refused_with_the_reason(
    bundle_copy: Path, changes: dict, message: str
) -> None:
    edit_card(bundle_copy, **changes)
    with pytest.raises(ModelBundleError, match=message):
        load_bundle(bundle_copy)


def test_card_that_is_not_json(bundle_copy: Path) -> None:
    (bundle_copy / "model_card.json").write_text("{not json")
    with pytest.raises(ModelBundleError, match="not valid JSON"):
        load_bundle(bundle_copy)


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ModelBundleError, match="does not exist"):
        load_bundle(tmp_path / "nowhere")
