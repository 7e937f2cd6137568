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
