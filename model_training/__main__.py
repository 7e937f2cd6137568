"""``python -m model_training``: see :mod:`model_training.cli`."""

from __future__ import annotations

import sys

from model_training.cli import main

if __name__ == "__main__":
    sys.exit(main())
