"""The classify path: one film in, calibrated probabilities, gate verdict and heat map out."""
