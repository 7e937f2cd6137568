"""The window resolves its model by the commands' rule (``$LUNGLENS_MODEL_DIR`` included)."""

from __future__ import annotations

from pathlib import Path

import pytest

from desktop_app.core.cli.model_choice import MODEL_DIR_ENV
from desktop_app.core.errors import ModelBundleError
from desktop_app.ui import workers


def test_the_window_honours_the_environment_variable(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "model-from-environment"
    monkeypatch.setenv(MODEL_DIR_ENV, str(missing))
    with pytest.raises(ModelBundleError, match="model-from-environment"):
        workers.load_active_model()
