"""Figures of a classifier on labelled images, in plain numpy.

* :mod:`~desktop_app.core.metrics.classification` - AUROC, ROC, confusion matrix, ECE ...;
* :mod:`~desktop_app.core.metrics.decisions` - the app's decision on many rows;
* :mod:`~desktop_app.core.metrics.populations` - per class / source / age group with
  patient-level bootstrap intervals;
* :mod:`~desktop_app.core.metrics.thresholds` - the threshold rules of an operating point;
* :mod:`~desktop_app.core.metrics.threshold_curves` - each finding's sensitivity and false
  rate as its threshold moves (card, validation, site calibration, their PDFs);
* :mod:`~desktop_app.core.metrics.intervals` - the Wilson interval of figures counted once;
* :mod:`~desktop_app.core.metrics.refusals` - sensitivity over the labelled films and counting
  the gate's refusals as not found.

They live in the core (not in ``model_training``) because the classify-only build, which
has no TensorFlow, must measure the installed model on a clinic's films with the very code
training uses.
"""
