"""Page 1 — Data: choose (or drop) a labelled folder or CSV; Next once it reads."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from desktop_app.core import capabilities
from desktop_app.ui.training_tasks import DatasetSummary, read_source
from desktop_app.ui.training_worker import BackgroundTask
from desktop_app.ui.wizard_pages.common import WizardContext, set_status, status_label

__all__ = ["DataPage"]

_LAYOUT_HELP = (
    "Supported layouts: a folder with one sub-folder per class (NORMAL, PNEUMONIA, COVID-19 — "
    "optionally inside train/ and test/), the Kaggle CoronaHack download "
    "(Chest_xray_Corona_Metadata.csv), or any CSV in CoronaHack's columns."
)


class DataPage(QtWidgets.QWizardPage):
    """Choose the labelled images.

    Next is enabled only when ``read_dataset`` succeeded on the current path (read in a
    worker: a folder of thousands of files takes a moment) and training is available in this
    build.

    Signals:
        source_read(object): The :class:`DatasetSummary` of a readable source.
        source_failed(str): Why the chosen path cannot be used.
    """

    source_read = QtCore.Signal(object)
    source_failed = QtCore.Signal(str)

    def __init__(self, context: WizardContext) -> None:
        super().__init__()
        self._context = context
        self._summary: DatasetSummary | None = None
        self._summary_text = ""
        self._reader: BackgroundTask | None = None
        self._unavailable = capabilities.training_unavailable_reason()
        self.setTitle("Choose the labelled X-rays")
        self.setSubTitle("Pick a folder or a CSV file, or drop it on this page.")
        self.setAcceptDrops(True)

        row = self._make_path_row()
        self._make_labels()
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.unavailable_label)
        layout.addLayout(row)
        layout.addWidget(self.help_label)
        layout.addWidget(self.status)
        layout.addWidget(self.summary_label, 1)

        self._debounce = QtCore.QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(400)
        self.registerField("datasetPath*", self.path_edit)
        if self._unavailable:
            set_status(self.unavailable_label, self._unavailable, "error")
            for widget in (self.path_edit, self.folder_button, self.csv_button):
                widget.setEnabled(False)
            self.setAcceptDrops(False)
        else:
            self.unavailable_label.hide()
        self.summary_label.hide()

        self.path_edit.textChanged.connect(self._on_path_edit_text_changed)
        self._debounce.timeout.connect(self._on_debounce_timeout)
        self.folder_button.clicked.connect(self._on_folder_button_clicked)
        self.csv_button.clicked.connect(self._on_csv_button_clicked)

    def _make_path_row(self) -> QtWidgets.QHBoxLayout:
        """The dataset path with its folder and CSV buttons."""
        self.path_edit = QtWidgets.QLineEdit()
        self.path_edit.setPlaceholderText("Folder or CSV file with labelled chest X-rays")
        self.path_edit.setAccessibleName("Dataset folder or CSV file")
        self.path_edit.setClearButtonEnabled(True)
        self.folder_button = QtWidgets.QPushButton("Choose &Folder…")
        self.folder_button.setAccessibleName("Choose a dataset folder")
        self.csv_button = QtWidgets.QPushButton("Choose &CSV…")
        self.csv_button.setAccessibleName("Choose a CoronaHack CSV file")
        label = QtWidgets.QLabel("&Dataset:")
        label.setBuddy(self.path_edit)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(label)
        row.addWidget(self.path_edit, 1)
        row.addWidget(self.folder_button)
        row.addWidget(self.csv_button)
        return row

    def _make_labels(self) -> None:
        """Why training is unavailable, the supported layouts, the status and the summary."""
        self.unavailable_label = status_label("Training unavailable")
        self.help_label = status_label("Supported layouts")
        self.help_label.setText(_LAYOUT_HELP)
        self.status = status_label("Dataset status")
        self.summary_label = status_label("Detected dataset")
        self.summary_label.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.summary_label.setMinimumHeight(120)
        self.summary_label.setAlignment(QtCore.Qt.AlignmentFlag.AlignTop)
        self.summary_label.setFrameShape(QtWidgets.QFrame.Shape.StyledPanel)
        self.summary_label.setMargin(8)

    # -- API ------------------------------------------------------------------------------------

    @property
    def summary(self) -> DatasetSummary | None:
        """The readable dataset, or None."""
        return self._summary

    def set_source(self, path: str | Path) -> None:
        """Use ``path`` and read it now (browse, drop and tests come here)."""
        self.path_edit.setText(str(path))
        self._debounce.stop()
        self._read()

    def isComplete(self) -> bool:
        """Next needs training support and a source that read successfully."""
        return (self._unavailable is None and super().isComplete()
                and self._summary is not None
                and self._summary_text == self.path_edit.text().strip())

    def validatePage(self) -> bool:
        """Hand the dataset to the later pages."""
        self._context.summary = self._summary
        return self._summary is not None

    # -- reading --------------------------------------------------------------------------------

    def _read(self) -> None:
        text = self.path_edit.text().strip()
        if self._reader is not None:
            self._reader.cancel()
        self._summary = None
        self.summary_label.hide()
        self.completeChanged.emit()
        if not text:
            set_status(self.status, "")
            return
        set_status(self.status, f"Reading {text}…")
        task = BackgroundTask(lambda _state: read_source(text))
        self._reader = task
        task.signals.succeeded.connect(partial(self._on_reader_succeeded, text=text))
        task.signals.failed.connect(self._on_reader_failed)
        self._context.start(task)

    def _on_reader_succeeded(self, summary: DatasetSummary, text: str) -> None:
        if text != self.path_edit.text().strip():
            return  # the user typed on; a newer read is coming
        self._summary = summary
        self._summary_text = text
        set_status(self.status, "The dataset can be read.", "ok")
        classes = "".join(
            f"<tr><td>{name}</td><td align='right'>{count}</td></tr>"
            for name, count in summary.per_class.items()
        )
        splits = ", ".join(f"{k} {v}" for k, v in summary.per_split.items())
        empty = [name for name, count in summary.per_class.items() if count == 0]
        note = ""
        if empty:
            note = (f"<p>No images of {', '.join(empty)}: "
                    + ("the COVID-19 vs Normal task will be suggested.</p>"
                       if summary.suggested_task() == "covid-vs-normal" else
                       "training needs images of every class.</p>"))
        self.summary_label.setText(
            f"<p><b>Layout:</b> {summary.layout}<br><b>Images:</b> {summary.images} from "
            f"{summary.patients} patients<br><b>Given split:</b> {splits}</p>"
            f"<table cellspacing='0' cellpadding='2'><tr><th align='left'>Class</th>"
            f"<th align='right'>Images</th></tr>{classes}</table>{note}"
        )
        self.summary_label.show()
        self.completeChanged.emit()
        self.source_read.emit(summary)

    def _on_reader_failed(self, error: BaseException) -> None:
        text = self.path_edit.text().strip()
        message = str(error).strip() or type(error).__name__
        set_status(self.status, f"This cannot be used for training: {message}", "error")
        self.source_failed.emit(f"{text}: {message}")

    # -- slots ----------------------------------------------------------------------------------

    def _on_path_edit_text_changed(self, _text: str) -> None:
        self._summary = None
        self.completeChanged.emit()
        self._debounce.start()

    def _on_debounce_timeout(self) -> None:
        self._read()

    def _on_folder_button_clicked(self) -> None:
        folder = QtWidgets.QFileDialog.getExistingDirectory(
            self, "Choose the dataset folder", self.path_edit.text())
        if folder:
            self.set_source(folder)

    def _on_csv_button_clicked(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(
            self, "Choose a CoronaHack CSV file", self.path_edit.text(),
            "CSV files (*.csv);;All files (*)")
        if path:
            self.set_source(path)

    # -- drag and drop (Qt's dropsite example) -------------------------------------------------

    @staticmethod
    def _dropped_path(mime: QtCore.QMimeData) -> Path | None:
        paths = [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]
        if len(paths) != 1:
            return None
        path = paths[0]
        return path if path.is_dir() or path.suffix.lower() == ".csv" else None

    def dragEnterEvent(self, event: QtGui.QDragEnterEvent) -> None:
        """Accept one dropped folder or CSV file."""
        if self._dropped_path(event.mimeData()) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QtGui.QDragMoveEvent) -> None:
        """Keep accepting while the drag moves over the page."""
        if self._dropped_path(event.mimeData()) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QtGui.QDropEvent) -> None:
        """Use the dropped folder or CSV file."""
        path = self._dropped_path(event.mimeData())
        if path is None:
            event.ignore()
            return
        event.acceptProposedAction()
        self.set_source(path)
