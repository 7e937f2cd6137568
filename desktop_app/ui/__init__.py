"""The PySide6 user interface of LungLens (the only package that imports Qt).

Modules are named after what they hold: :mod:`application` (QApplication setup and
:func:`run_gui`), :mod:`main_window`, :mod:`image_view`, :mod:`result_panel`,
:mod:`results_table`, :mod:`workers` (Qt adapters around the core's plain functions),
:mod:`exporters`, :mod:`model_card_dialog`, :mod:`settings` and :mod:`banner`; the training
wizard (:mod:`training_wizard`) and the model manager (:mod:`models_dialog`).

PySide6-Essentials 6.12.0 is excluded in ``pyproject.toml``: on CPython 3.11 it drops a
reference to ``True`` on every ``Signal.emit()`` and to ``None`` on every ``void`` Qt call,
which aborts the interpreter after a few thousand calls ("bool_dealloc"/"none_dealloc").
``tests/ui/test_qt_binding.py`` fails if an installed binding has either leak.
"""
