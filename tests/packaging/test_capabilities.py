"""``desktop_app.core.capabilities``: the flag the training wizard checks (fast, no build)."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator

import pytest

from desktop_app.core import capabilities


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    capabilities.training_unavailable_reason.cache_clear()
    yield
    capabilities.training_unavailable_reason.cache_clear()


def test_training_available_in_the_development_environment() -> None:
    assert capabilities.training_available() is True
    assert capabilities.training_unavailable_reason() is None


def test_checking_does_not_import_tensorflow() -> None:
    # The wizard asks while the window is being built: importing TF there would cost seconds.
    was_loaded = "tensorflow" in sys.modules
    capabilities.training_available()
    assert ("tensorflow" in sys.modules) == was_loaded


def test_missing_tensorflow_gives_the_full_build_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec

    def fake_find_spec(name: str, *args: object):
        return None if name == "tensorflow" else real_find_spec(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", fake_find_spec)
    assert capabilities.training_available() is False
    reason = capabilities.training_unavailable_reason()
    assert reason is not None
    assert "full LungLens build" in reason
    assert "tensorflow" in reason
    assert "model_training" not in reason


def test_broken_module_counts_as_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    def raising_find_spec(name: str, *args: object):
        raise ValueError(f"{name}.__spec__ is None")

    monkeypatch.setattr(importlib.util, "find_spec", raising_find_spec)
    assert capabilities.training_available() is False
