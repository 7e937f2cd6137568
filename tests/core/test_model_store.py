from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from desktop_app.core.model.model_bundle import ModelBundle
from desktop_app.core.model.model_store import BUNDLED_ID, ModelStore, ModelStoreError


@pytest.fixture
def store(tiny_bundle: Path, tmp_path: Path) -> ModelStore:
    return ModelStore(root=tmp_path / "models", bundled=tiny_bundle)


def test_fresh_store_uses_the_bundled_model(store: ModelStore) -> None:
    active = store.active()
    assert active.key == BUNDLED_ID
    assert active.warning is None
    assert [e.key for e in store.entries()] == [BUNDLED_ID]


def test_install_switch_rollback_delete(store: ModelStore, tiny_bundle: Path) -> None:
    entry = store.install(tiny_bundle, "clinic v1")
    assert entry.key == "clinic-v1"
    assert entry.active
    assert store.active().key == "clinic-v1"
    store.install(tiny_bundle, "clinic v2")
    assert store.active().key == "clinic-v2"
    assert store.previous() == "clinic-v1"
    assert store.rollback() == "clinic-v1"
    assert store.active().key == "clinic-v1"
    store.activate(BUNDLED_ID)
    assert store.active().key == BUNDLED_ID
    store.activate("clinic-v2")
    store.delete("clinic-v2")
    assert store.active().key == BUNDLED_ID  # previous of clinic-v2 was the bundled model
    assert [e.key for e in store.entries()] == [BUNDLED_ID, "clinic-v1"]


def test_bundled_model_cannot_be_deleted(store: ModelStore) -> None:
    with pytest.raises(ModelStoreError, match="cannot be deleted"):
        store.delete(BUNDLED_ID)


def test_duplicate_and_invalid_names(store: ModelStore, tiny_bundle: Path) -> None:
    store.install(tiny_bundle, "a")
    with pytest.raises(ModelStoreError, match="already installed"):
        store.install(tiny_bundle, "a")
    with pytest.raises(ModelStoreError, match="invalid model name"):
        store.install(tiny_bundle, "../..")


def test_failed_verification_installs_nothing(store: ModelStore, tiny_bundle: Path) -> None:
    def refuse(bundle: ModelBundle) -> None:
        raise ModelStoreError(f"self-test failed for {bundle.model_id}")

    with pytest.raises(ModelStoreError, match="self-test failed"):
        store.install(tiny_bundle, "bad", verify=refuse)
    assert [e.key for e in store.entries()] == [BUNDLED_ID]
    assert not any(p.name.startswith(".staging") for p in store.root.iterdir())
    assert store.active().key == BUNDLED_ID


def test_crash_during_install_keeps_the_previous_model(
    store: ModelStore, tiny_bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.install(tiny_bundle, "good")
    real_copy = shutil.copy2
    calls = []

    def crash_on_second_file(src: object, dst: object) -> object:
        calls.append(src)
        if len(calls) == 2:
            raise KeyboardInterrupt  # stands in for a kill in the middle of copying
        return real_copy(src, dst)

    monkeypatch.setattr(shutil, "copy2", crash_on_second_file)
    with pytest.raises(KeyboardInterrupt):
        store.install(tiny_bundle, "half")
    monkeypatch.undo()
    assert store.active().key == "good"
    assert "half" not in [e.key for e in store.entries()]


def test_leftover_staging_is_ignored_and_cleaned(store: ModelStore, tiny_bundle: Path) -> None:
    store.install(tiny_bundle, "good")
    leftover = store.root / ".staging-abc123"
    shutil.copytree(tiny_bundle, leftover)
    (leftover / "model.tflite").write_bytes(b"partial")
    assert store.active().key == "good"
    assert [e.key for e in store.entries()] == [BUNDLED_ID, "good"]
    assert store.cleanup_staging() == [leftover]
    assert not leftover.exists()


def test_damaged_active_model_falls_back_with_a_warning(
    store: ModelStore, tiny_bundle: Path
) -> None:
    store.install(tiny_bundle, "one")
    store.install(tiny_bundle, "two")
    (store.root / "two" / "model.tflite").write_bytes(b"garbage")
    active = store.active()
    assert active.key == "one"
    assert "'two' could not be loaded" in active.warning
    assert "sha256" in active.warning
    broken = next(e for e in store.entries() if e.key == "two")
    assert broken.problem is not None
    with pytest.raises(ModelStoreError, match="cannot switch"):
        store.activate("two")
