"""Persistent user preferences (window geometry, last folder, overlay opacity, recent files).

A thin typed wrapper over :class:`QtCore.QSettings` so that keys and their types live in one
place. The organisation and application names are set by :mod:`desktop_app.ui.application`
before the first ``QSettings`` is made, so the values land in the per-user location Qt picks
for the platform (registry, ``~/.config``, ``~/Library/Preferences``), never next to the
program. Tests point ``QSettings`` at a temporary INI file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PySide6 import QtCore

__all__ = ["MAX_RECENT", "Settings"]

MAX_RECENT = 10

_GEOMETRY = "window/geometry"
_SCREEN = "window/screen"
_STATE = "window/state"
_SPLITTER = "window/splitters"
_LAST_FOLDER = "files/last_folder"
_RECENT = "files/recent"
_OPACITY = "view/overlay_opacity"
_HEATMAP = "view/heatmap_visible"
_RECEIVER = "receiver/options"


class Settings:
    """Typed access to LungLens' persisted preferences."""

    def __init__(self) -> None:
        self._store = QtCore.QSettings()

    def sync(self) -> None:
        """Flush pending writes (Qt also does this on exit)."""
        self._store.sync()

    @property
    def file_name(self) -> str:
        """Where the settings are stored (for diagnostics and tests)."""
        return self._store.fileName()

    # -- window --------------------------------------------------------------------------------

    def geometry(self) -> QtCore.QByteArray | None:
        """Saved ``QWidget.saveGeometry()`` blob, if any."""
        value = self._store.value(_GEOMETRY)
        return value if isinstance(value, QtCore.QByteArray) and not value.isEmpty() else None

    def set_geometry(self, value: QtCore.QByteArray) -> None:
        """Remember the window geometry."""
        self._store.setValue(_GEOMETRY, value)

    def screen_geometry(self) -> QtCore.QRect | None:
        """Available area of the screen the geometry was saved on, if saved."""
        value = self._store.value(_SCREEN)
        return value if isinstance(value, QtCore.QRect) and value.isValid() else None

    def set_screen_geometry(self, value: QtCore.QRect) -> None:
        """Remember the screen the geometry belongs to (a geometry only fits its own)."""
        self._store.setValue(_SCREEN, value)

    def window_state(self) -> QtCore.QByteArray | None:
        """Saved ``QMainWindow.saveState()`` blob, if any."""
        value = self._store.value(_STATE)
        return value if isinstance(value, QtCore.QByteArray) and not value.isEmpty() else None

    def set_window_state(self, value: QtCore.QByteArray) -> None:
        """Remember toolbar and dock layout."""
        self._store.setValue(_STATE, value)

    def splitter_states(self) -> list[QtCore.QByteArray]:
        """Saved splitter positions (outer first)."""
        value = self._store.value(_SPLITTER)
        if not isinstance(value, list):
            return []
        return [item for item in value if isinstance(item, QtCore.QByteArray)]

    def set_splitter_states(self, values: list[QtCore.QByteArray]) -> None:
        """Remember splitter positions."""
        self._store.setValue(_SPLITTER, values)

    # -- files ---------------------------------------------------------------------------------

    def last_folder(self) -> str:
        """The folder the last Open dialog was in (home if unknown or gone)."""
        value = str(self._store.value(_LAST_FOLDER, "") or "")
        return value if value and Path(value).is_dir() else str(Path.home())

    def set_last_folder(self, folder: str | Path) -> None:
        """Remember where the user last opened files."""
        self._store.setValue(_LAST_FOLDER, str(folder))

    def recent_files(self) -> list[str]:
        """Recently opened files and folders, newest first."""
        value = self._store.value(_RECENT, [])
        if isinstance(value, str):  # QSettings returns a bare string for one-item lists
            value = [value]
        if not isinstance(value, list):
            return []
        return [str(item) for item in value if item][:MAX_RECENT]

    def add_recent_files(self, paths: list[str | Path]) -> None:
        """Put ``paths`` at the top of the recent list (deduplicated, capped)."""
        recent = self.recent_files()
        for path in reversed([str(p) for p in paths]):
            if path in recent:
                recent.remove(path)
            recent.insert(0, path)
        self._store.setValue(_RECENT, recent[:MAX_RECENT])

    def clear_recent_files(self) -> None:
        """Forget the recent list."""
        self._store.setValue(_RECENT, [])

    # -- view ----------------------------------------------------------------------------------

    def overlay_opacity(self) -> int:
        """Heat-map opacity in percent (0..100)."""
        try:
            value = int(self._store.value(_OPACITY, 45))
        except (TypeError, ValueError):
            value = 45
        return max(0, min(100, value))

    def set_overlay_opacity(self, percent: int) -> None:
        """Remember the heat-map opacity."""
        self._store.setValue(_OPACITY, int(percent))

    def heatmap_visible(self) -> bool:
        """Whether the heat map was shown when the app last closed."""
        value = self._store.value(_HEATMAP, False)
        return value in (True, "true", "1", 1)

    def set_heatmap_visible(self, visible: bool) -> None:
        """Remember the heat-map toggle."""
        self._store.setValue(_HEATMAP, bool(visible))

    # -- receiver ------------------------------------------------------------------------------

    def receiver_options(self) -> dict[str, Any]:
        """The last *Receive Films* choices (host, port, AE titles, watch folder), or ``{}``."""
        try:
            value = json.loads(str(self._store.value(_RECEIVER, "{}") or "{}"))
        except json.JSONDecodeError:
            return {}
        return value if isinstance(value, dict) else {}

    def set_receiver_options(self, options: dict[str, Any]) -> None:
        """Remember the *Receive Films* choices."""
        self._store.setValue(_RECEIVER, json.dumps(options))
