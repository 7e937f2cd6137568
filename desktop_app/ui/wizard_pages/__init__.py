"""The training wizard's pages, one module each (see :mod:`desktop_app.ui.training_wizard`)."""
