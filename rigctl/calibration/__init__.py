"""Installer calibration and therapist weigh-in (DESIGN section 5).

``fit`` (pure arithmetic and refusal rules), ``stability`` (is a reading
still?), ``store`` (the versioned, power-cut safe calibration file),
``startup`` (which calibration the core starts with), ``procedures`` (tare,
points, commit, verify, re-tare, weigh-in on a live core), ``report`` (the
record an installer hands to the clinic).
"""
