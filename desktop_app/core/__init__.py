"""The LungLens core: no Qt, no TensorFlow at module level.

Everything the application, the CLI and the training pipeline share lives here, so that the
app can never drift from what the model was trained on.
"""
