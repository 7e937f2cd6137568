"""The training page's words: the cancel sentence and the settings in the log."""

from __future__ import annotations

from desktop_app.ui.training_tasks import cancel_message, settings_lines


def test_cancel_message_is_one_sentence_with_the_right_plural() -> None:
    from model_training.training import TrainingCancelled

    assert cancel_message(TrainingCancelled(0, {})) == (
        "Training was cancelled before the first epoch finished.")
    assert cancel_message(TrainingCancelled(1, {})) == (
        "Training was cancelled after 1 complete epoch.")
    assert cancel_message(TrainingCancelled(3, {})) == (
        "Training was cancelled after 3 complete epochs.")
    assert cancel_message(RuntimeError("stopped")) == "Training was cancelled."


def test_settings_are_name_value_lines() -> None:
    lines = settings_lines({"epochs": 18, "learning_rate": 0.002, "weight_decay": 0.0001,
                            "initial_model": None, "cache": True, "sizes": [192, 224],
                            "schedule": {"name": "cosine", "warmup_epochs": 1}})
    assert lines == ["epochs: 18", "learning_rate: 0.002", "weight_decay: 0.0001",
                     "initial_model: none", "cache: yes", "sizes: 192, 224",
                     "schedule.name: cosine", "schedule.warmup_epochs: 1"]


def test_the_installed_model_is_scored_per_age_group(tiny_bundle, tmp_path) -> None:
    """Its adult figures decide the install advice, so the held-out rows keep their age."""
    from pathlib import Path

    from desktop_app.core.model.model_store import ModelStore
    from desktop_app.ui.training_tasks import evaluate_current_model, read_source
    from tests.training.conftest import write_metadata_dataset

    data = write_metadata_dataset(tmp_path / "data")
    csv_path = data / "metadata.csv"
    lines = csv_path.read_text(encoding="utf-8").splitlines()
    # Every other film an adult: both groups have films of every class.
    lines = [lines[0] + ",age_group"] + [
        f"{line},{'adult' if index % 2 else 'child'}" for index, line in enumerate(lines[1:])]
    csv_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    table = read_source(data).table
    test_rows = table[table["split"] == "TEST"]
    metrics, model_id, _note = evaluate_current_model(
        ModelStore(root=tmp_path / "store", bundled=tiny_bundle), test_rows,
        Path(tmp_path / "held-out"), bootstrap_rounds=20, cache_dir=str(tmp_path / "cache"))
    assert model_id is not None
    assert metrics is not None
    groups = metrics["populations"]["per_age_group"]
    expected = test_rows["age_group"].value_counts().to_dict()
    assert {group: groups[group]["n"] for group in groups} == expected
    assert metrics["populations"]["key_figures"]["adult_false_covid_rate"] is not None
