"""The card's test figures where the gate's refusals are known: sensitivity both ways."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from model_training.evaluation import ModelOutputs, evaluate
from tests.core.test_validation import write_labelled_folder

CLASSES = ["Normal", "Pneumonia", "COVID-19"]
DECISION = {"priority": ["COVID-19", "Pneumonia"],
            "thresholds": {"COVID-19": 0.5, "Pneumonia": 0.5}, "min_confidence": 0.5}


def test_evaluate_adds_the_gate_figures_when_refusals_are_given() -> None:
    labels = np.array([2, 2, 2, 2, 0, 0])
    logits = np.eye(3)[[2, 2, 2, 0, 0, 0]] * 5.0  # three COVID-19 films found, one missed
    outputs = ModelOutputs(logits=logits, features=np.zeros((6, 4)))
    refused = [False, False, True, False, False, False]
    cautioned = [True, False, False, False, False, False]
    result = evaluate(None, np.zeros((6, 8, 8)), labels, CLASSES, decision=DECISION,
                      shortcut_audit=False, bootstrap_rounds=20, outputs=outputs,
                      refused=refused, cautioned=cautioned)
    gate = result.metrics["gate"]
    covid = gate["per_class"]["COVID-19"]
    assert (gate["refused"], gate["cautioned"]) == (1, 1)
    assert covid["sensitivity_labelled"]["value"] == pytest.approx(2 / 3)
    assert covid["sensitivity_counting_refused"]["value"] == pytest.approx(2 / 4)
    # Without refusals the card's figures are as before: no gate section.
    plain = evaluate(None, np.zeros((6, 8, 8)), labels, CLASSES, decision=DECISION,
                     shortcut_audit=False, bootstrap_rounds=0, outputs=outputs)
    assert "gate" not in plain.metrics
    with pytest.raises(ValueError, match="Received: 2"):
        evaluate(None, np.zeros((6, 8, 8)), labels, CLASSES, decision=DECISION,
                 shortcut_audit=False, bootstrap_rounds=0, outputs=outputs,
                 refused=[True, False])


def test_evaluate_bundle_with_the_gate_counts_what_the_app_refuses_and_cautions(
    tiny_caution_bundle: Path, tmp_path: Path
) -> None:
    from model_training.bundle_evaluation import evaluate_bundle

    data = write_labelled_folder(tmp_path / "data", per_class=3)  # + a photo among normals
    metrics = evaluate_bundle(tiny_caution_bundle, data, subset="all", bootstrap_rounds=10,
                              cache_dir=tmp_path / "cache", gate=True)
    gate = metrics["gate"]
    assert gate["films"] == metrics["n"] == 10
    assert gate["refused"] == 1
    assert gate["cautioned"] == 9
    assert gate["per_class"]["Normal"]["refused"] == 1
