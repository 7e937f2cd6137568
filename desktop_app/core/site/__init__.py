"""Site calibration: a site's films, its thresholds and gate limits, the check set record."""
