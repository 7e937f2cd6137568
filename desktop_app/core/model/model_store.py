"""Installed models: atomic install, switch, rollback and delete; the bundled model as fallback.

Layout under :func:`desktop_app.core.locations.user_models_dir`::

    models/
      active.json              {"active": "<model id>", "previous": "<model id>" | null}
      <model id>/              a verified bundle (model.tflite, model.keras, model_card.json)
      .staging-<random>/       an install in progress (removed at the next start if left over)

Why it cannot leave the app without a working model:

* A bundle is copied into a ``.staging-*`` folder, verified there (hashes, LiteRT load, an
  optional self-test on held-out images), and only then renamed into place; a rename inside
  one folder is atomic, so a crash leaves either no new model or a complete one.
* ``active.json`` is replaced atomically (write a temporary file, ``fsync``, ``os.replace``).
* On start the active model is verified again; if it is missing or damaged, the store falls
  back to the previous model and then to the bundled one, and says so.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from desktop_app.core.audit_trail import append_to_folder
from desktop_app.core.errors import LungLensError, ModelBundleError
from desktop_app.core.locations import bundled_model_dir, user_data_dir, user_models_dir
from desktop_app.core.model.model_bundle import ModelBundle, load_bundle
from desktop_app.core.model.model_card import CARD_FILE

__all__ = ["BUNDLED_ID", "ActiveModel", "ModelEntry", "ModelStore", "ModelStoreError"]

BUNDLED_ID = "bundled"
_ACTIVE_FILE = "active.json"
_STAGING_PREFIX = ".staging-"
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


class ModelStoreError(LungLensError):
    """An install, switch or delete was refused; the message says why."""


@dataclass(frozen=True)
class ModelEntry:
    """One model the user can choose.

    Attributes:
        key: ``"bundled"`` or the installed folder name.
        path: Its bundle folder.
        model_id: The card's model id (or the folder name if the card is unreadable).
        bundled: True for the model shipped with the program (cannot be deleted).
        active: True for the model in use.
        problem: Why the bundle cannot be used, if it is damaged; else ``None``.
    """

    key: str
    path: Path
    model_id: str
    bundled: bool
    active: bool
    problem: str | None = None


@dataclass(frozen=True)
class ActiveModel:
    """The model to use now, and what the store had to do to get it.

    Attributes:
        key: Store key of the model.
        bundle: The verified bundle.
        warning: Set when the chosen model was damaged and a fallback is used.
    """

    key: str
    bundle: ModelBundle
    warning: str | None = None


def _write_json_atomic(path: Path, data: dict[str, object]) -> None:
    handle, temp_name = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(data, stream, indent=2)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


class ModelStore:
    """The user's installed models plus the bundled one."""

    def __init__(self, root: Path | None = None, bundled: Path | None = None,
                 audit_dir: Path | None = None) -> None:
        """Open the store.

        Args:
            root: Where installed models live (default: the user's models folder).
            bundled: The bundled model (default: the one shipped with the program).
            audit_dir: The data folder whose audit trail records installs, switches and
                rollbacks (default: the user data folder, for the user's own store; a store
                at another ``root`` records nothing unless given one).
        """
        self.root = Path(root) if root is not None else user_models_dir()
        self.bundled_path = Path(bundled) if bundled is not None else bundled_model_dir()
        self.audit_dir = audit_dir if audit_dir is not None or root is not None \
            else user_data_dir()

    def _audit(self, what: str, key: str, detail: str | None = None) -> None:
        if self.audit_dir is not None:
            append_to_folder(self.audit_dir, what, key, model_id=key, detail=detail)

    # -- state -------------------------------------------------------------------------------

    def _state(self) -> dict[str, str | None]:
        path = self.root / _ACTIVE_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {"active": BUNDLED_ID, "previous": None}
        if not isinstance(data, dict):
            return {"active": BUNDLED_ID, "previous": None}
        return {"active": data.get("active") or BUNDLED_ID, "previous": data.get("previous")}

    def _set_state(self, active: str, previous: str | None) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        _write_json_atomic(self.root / _ACTIVE_FILE, {"active": active, "previous": previous})

    def path_of(self, key: str) -> Path:
        """Bundle folder for a store key."""
        return self.bundled_path if key == BUNDLED_ID else self.root / key

    # -- queries -----------------------------------------------------------------------------

    def previous(self) -> str | None:
        """Key of the model :meth:`rollback` would switch to, if any."""
        return self._state()["previous"]

    def entries(self) -> list[ModelEntry]:
        """Every model: the bundled one first, then installed ones by name."""
        active = self._state()["active"]
        keys = [BUNDLED_ID]
        if self.root.is_dir():
            keys += sorted(
                p.name for p in self.root.iterdir()
                if p.is_dir() and not p.name.startswith(".") and (p / CARD_FILE).exists()
            )
        result = []
        for key in keys:
            path = self.path_of(key)
            try:
                bundle = load_bundle(path)
                model_id, problem = bundle.model_id, None
            except ModelBundleError as error:
                model_id, problem = key, error.reason
            result.append(
                ModelEntry(key, path, model_id, key == BUNDLED_ID, key == active, problem)
            )
        return result

    def active(self) -> ActiveModel:
        """Load the active model, falling back to the previous and then the bundled one.

        Raises:
            ModelBundleError: Only if even the bundled model is unusable (a broken install).
        """
        state = self._state()
        tried: list[str] = []
        for key in (state["active"], state["previous"], BUNDLED_ID):
            if not key or key in tried:
                continue
            try:
                bundle = load_bundle(self.path_of(key))
            except ModelBundleError as error:
                tried.append(key)
                if key == BUNDLED_ID:
                    raise
                last_error = error.reason
                continue
            warning = None
            if tried:
                warning = (
                    f"model {tried[0]!r} could not be loaded ({last_error}); "
                    f"using {bundle.model_id!r} instead"
                )
            return ActiveModel(key, bundle, warning)
        raise ModelBundleError(self.bundled_path, "no usable model")  # pragma: no cover

    # -- changes -----------------------------------------------------------------------------

    def cleanup_staging(self) -> list[Path]:
        """Remove installs that were interrupted (crash, power cut); return what was removed."""
        removed = []
        if self.root.is_dir():
            for path in self.root.iterdir():
                if path.name.startswith(_STAGING_PREFIX):
                    shutil.rmtree(path, ignore_errors=True)
                    removed.append(path)
        return removed

    def install(
        self,
        source: Path,
        name: str,
        *,
        verify: Callable[[ModelBundle], None] | None = None,
        activate: bool = True,
    ) -> ModelEntry:
        """Copy a bundle into the store atomically and (by default) make it active.

        Args:
            source: A bundle folder (e.g. the training output).
            name: The user's name for it; becomes the folder name (made filesystem-safe).
            verify: Extra check on the staged copy (e.g. load in LiteRT and classify held-out
                images); raise to refuse the install.
            activate: Make it the active model; the current one becomes ``previous``.

        Returns:
            The installed entry.

        Raises:
            ModelStoreError: Bad name, name taken, or verification failed (nothing installed).
        """
        key = _SAFE_NAME.sub("-", name.strip()).strip(".-")
        if not key or key == BUNDLED_ID:
            raise ModelStoreError(f"invalid model name {name!r}")
        target = self.root / key
        if target.exists():
            raise ModelStoreError(f"a model named {key!r} is already installed")
        self.root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=_STAGING_PREFIX, dir=self.root))
        try:
            source_bundle = load_bundle(source)
            for file_name in (*source_bundle.card.files, CARD_FILE):
                shutil.copy2(source / file_name, staging / file_name)
            staged = load_bundle(staging)
            if verify is not None:
                verify(staged)
            os.replace(staging, target)
        except ModelBundleError as error:
            shutil.rmtree(staging, ignore_errors=True)
            raise ModelStoreError(f"model not installed: {error}") from error
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        calibration = staged.card.site_calibration
        self._audit("calibration installed" if calibration else "model installed", key,
                    f"site {calibration['site']} on {calibration['date']}" if calibration
                    else staged.card.model_id)
        if activate:
            self.activate(key)
        return next(entry for entry in self.entries() if entry.key == key)

    def activate(self, key: str) -> None:
        """Make ``key`` the active model (verified first); the current one becomes previous.

        Raises:
            ModelStoreError: If the model does not exist or fails verification.
        """
        try:
            load_bundle(self.path_of(key))
        except ModelBundleError as error:
            raise ModelStoreError(f"cannot switch to {key!r}: {error}") from error
        current = self._state()["active"]
        if current == key:
            return
        self._set_state(key, current)
        self._audit("model activated", key, f"instead of {current or BUNDLED_ID}")

    def rollback(self) -> str:
        """Switch back to the previous model; return its key.

        Raises:
            ModelStoreError: If there is no usable previous model.
        """
        previous = self.previous()
        if not previous:
            raise ModelStoreError("there is no previous model to go back to")
        current = self._state()["active"]
        self.activate(previous)
        self._audit("model rolled back", previous, f"from {current or BUNDLED_ID}")
        return previous

    def delete(self, key: str) -> None:
        """Delete an installed model (never the bundled one).

        If it is active, the previous (or bundled) model becomes active first.

        Raises:
            ModelStoreError: For the bundled model or an unknown key.
        """
        if key == BUNDLED_ID:
            raise ModelStoreError("the bundled model cannot be deleted")
        path = self.root / key
        if not path.is_dir() or path.name.startswith("."):
            raise ModelStoreError(f"no installed model named {key!r}")
        state = self._state()
        if state["active"] == key:
            fallback = state["previous"] if state["previous"] not in (None, key) else BUNDLED_ID
            self._set_state(fallback or BUNDLED_ID, None)
        elif state["previous"] == key:
            self._set_state(state["active"] or BUNDLED_ID, None)
        # Rename first so a half-deleted folder is never mistaken for a model.
        doomed = self.root / f"{_STAGING_PREFIX}deleted-{key}"
        os.replace(path, doomed)
        shutil.rmtree(doomed, ignore_errors=True)
