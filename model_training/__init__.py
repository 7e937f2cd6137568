"""Training, evaluation and export of LungLens models.

Importing this package is instant: TensorFlow and Keras are imported lazily inside the
functions that need them, so the wizard (and ``python -m model_training check``) can use the
dataset readers and the dataset check without paying TensorFlow's start-up time.

Public API (see each module):

* :func:`model_training.datasets.read_dataset` - one table from any supported layout.
* :func:`model_training.dataset_check.check_dataset` - findings before training.
* :func:`model_training.splits.assign_subsets` - patient-level train/val/test split.
* :func:`model_training.training.train` - train a model, returns a ``TrainingResult``.
* :func:`model_training.evaluation.evaluate` - metrics for a Keras model or a bundle.
* :func:`model_training.calibration.fit_temperature` /
  :func:`model_training.calibration.choose_decision` - calibration and operating point.
* :func:`model_training.export.export_bundle` - write and verify a model bundle.
"""

from __future__ import annotations

from model_training.config import TrainingConfig
from model_training.datasets import TASK_CLASSES, read_dataset

__all__ = ["TASK_CLASSES", "TrainingConfig", "read_dataset"]
