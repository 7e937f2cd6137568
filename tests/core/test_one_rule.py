"""Rules written once: parts that must agree use the same definition.

(The DICOM transfer syntaxes: ``test_dicom_receiver``; the key figures' names:
``tests/ui/test_ui_card_metrics.py``; the refusal column: ``test_validate_cli`` and
``tests/ui/test_ui_export_and_app.py``.)
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from desktop_app.core.cli.calibrate_cli import _cell
from desktop_app.core.cli.validate_cli import _row
from desktop_app.core.hashing import sha256_bytes, sha256_file
from desktop_app.core.litert.file_hashes import verify_listed_files
from desktop_app.core.metrics.figures import figure_text, format_figure
from desktop_app.core.metrics.populations import format_populations

FIGURE = {"value": 0.1234, "ci95": [0.081, 0.17], "n": 140}


def test_models_and_films_are_hashed_alike(tmp_path: Path) -> None:
    data = bytes(range(256)) * 5000  # more than one read block
    path = tmp_path / "model.tflite"
    path.write_bytes(data)
    expected = hashlib.sha256(data).hexdigest()
    assert sha256_file(path) == sha256_bytes(data) == expected
    verify_listed_files(tmp_path, {"model.tflite": expected}, card="model card")


def test_a_figure_reads_the_same_in_every_command() -> None:
    text = "12.3 % (8.1-17.0), n=140"
    assert figure_text(FIGURE) == text
    assert format_figure(FIGURE) == text  # the window and the wizard (n >= 30: no mark)
    assert _row("accuracy", FIGURE).endswith(text)  # validate
    populations = {"key_figures": {"adult_false_covid_rate": FIGURE},
                   "per_source": {}, "per_age_group": {}}
    assert any(line.endswith(text) for line in format_populations(populations))  # evaluate
    assert _cell(FIGURE) == "12 % (8-17), n=140"  # calibrate: the same words, whole percent
    assert _cell(None) == "—"
