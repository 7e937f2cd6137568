"""Leave-one-source-out tables, summaries and the card record."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from model_training.source_holdout import (
    format_holdout_table,
    holdout_summary,
    holdout_table,
    recipe_difference,
    record_in_card,
)


def _table() -> pd.DataFrame:
    rows = []
    for source, label, count in (("kermany", "Normal", 12), ("kermany", "Pneumonia", 12),
                                 ("ieee8023", "COVID-19", 12), ("cxnet", "COVID-19", 8),
                                 ("cxnet", "Normal", 2)):
        for index in range(count):
            split = "TEST" if index % 4 == 0 else "TRAIN"
            rows.append({"path": f"/d/{source}_{label}_{index}.jpg", "label": label,
                         "split": split, "patient_id": f"{source}_{label}_{index}",
                         "source": source, "age_group": "adult", "view": ""})
    # A cxnet copy of an ieee8023 patient carries that patient's id (as in the real data).
    rows.append({"path": "/d/cxnet_copy.jpg", "label": "COVID-19", "split": "TRAIN",
                 "patient_id": "ieee8023_COVID-19_1", "source": "cxnet", "age_group": "adult",
                 "view": ""})
    table = pd.DataFrame(rows)
    table["label"] = pd.Categorical(table["label"], categories=["Normal", "Pneumonia",
                                                                "COVID-19"])
    return table


def test_held_out_source_is_all_test_and_its_patients_leave_training() -> None:
    table = holdout_table(_table(), "ieee8023", seed=0)
    test = table[table["subset"] == "test"]
    assert set(test["source"]) == {"ieee8023", "cxnet"}
    assert (test["source"] == "ieee8023").sum() == 12  # its TRAIN and TEST rows alike
    assert "/d/cxnet_copy.jpg" in set(test["path"])  # same patient, other source
    fitting = table[table["subset"] != "test"]
    assert "ieee8023" not in set(fitting["source"])
    assert not set(fitting["patient_id"]) & set(test["patient_id"])
    # The familiar sources' TEST rows are not used (they would re-measure familiar sources).
    assert not (fitting["split"] == "TEST").any()
    assert set(fitting["subset"]) == {"train", "val"}
    assert list(table["label"].cat.categories) == ["Normal", "Pneumonia", "COVID-19"]


def test_holdout_refuses_unknown_source_and_lost_class() -> None:
    with pytest.raises(ValueError, match="'hospital-x' has no images"):
        holdout_table(_table(), "hospital-x")
    table = _table()
    only_kermany_pneumonia = table[(table["source"] != "kermany")
                                   | (table["label"] != "Pneumonia")]
    extra = table[(table["source"] == "kermany") & (table["label"] == "Pneumonia")].assign(
        source="onlypneumonia")
    with pytest.raises(ValueError, match=r"without source 'onlypneumonia'.*Pneumonia"):
        holdout_table(pd.concat([only_kermany_pneumonia, extra], ignore_index=True),
                      "onlypneumonia")


def test_summary_table_and_card_record(tmp_path: Path) -> None:
    table = holdout_table(_table(), "cxnet", seed=0)
    figure = {"value": 0.75, "ci95": [0.5, 1.0], "n": 8}
    metrics = {"populations": {
        "per_class": {"COVID-19": {"auroc": None}},
        "per_source": {"cxnet": {"accuracy": figure, "labelled_covid_non_covid": None,
                                 "per_class": {"COVID-19": {"sensitivity": figure}}}}}}
    summary = holdout_summary("cxnet", metrics, table)
    assert summary["test_images"] == 11
    assert summary["test_per_class"] == {"COVID-19": 9, "Normal": 2}
    assert summary["covid_sensitivity"] == figure
    lines = format_holdout_table([summary])
    assert lines[2].startswith("| cxnet | 11 (COVID-19 9, Normal 2) | 75 % (50-100), n=8 | n/a")
    card = tmp_path / "model_card.json"
    card.write_text(json.dumps({"model_id": "m", "metrics": {"test": {}}}), encoding="utf-8")
    record_in_card(card, [{**summary, "training_config": {"epochs": 3}}])
    written = json.loads(card.read_text(encoding="utf-8"))
    study = written["metrics"]["leave_one_source_out"]
    assert study["runs"][0]["source"] == "cxnet"
    assert "training_config" not in study["runs"][0]
    assert study["recipe"] == {"epochs": 3}
    assert written["metrics"]["test"] == {}
    assert [p.name for p in tmp_path.iterdir()] == ["model_card.json"]


def test_card_says_when_the_study_ran_another_recipe(tmp_path: Path) -> None:
    model = {"input_size": 192, "epochs": 18, "region": "lungs", "seed": 2026}
    same = {"input_size": 192, "epochs": 18, "region": "lungs", "seed": 7}
    reduced = {"input_size": 96, "epochs": 10, "region": "lungs"}
    assert recipe_difference(model, [same]) == ""
    assert recipe_difference(model, [reduced, reduced]) == (
        "input_size 96 (this model: 192); epochs 10 (this model: 18)")
    # Settings a card written before they existed does not record take their old default.
    assert recipe_difference({"input_size": 192}, [{"input_size": 192, "region": "lungs"}]) == (
        "region lungs (this model: image)")
    card = tmp_path / "model_card.json"
    card.write_text(json.dumps({"model_id": "m", "training_config": model}), encoding="utf-8")
    summary = {"source": "actualmed", "training_config": reduced}
    record_in_card(card, [summary])
    what = json.loads(card.read_text(encoding="utf-8"))["metrics"]["leave_one_source_out"]["what"]
    assert "except input_size 96 (this model: 192)" in what
    record_in_card(card, [{**summary, "training_config": same}])
    what = json.loads(card.read_text(encoding="utf-8"))["metrics"]["leave_one_source_out"]["what"]
    assert "same recipe as this model" in what
