"""Forecast and anomaly-detection accuracy (issue 4, section 5): `python -m bench.accuracy [--quick]`.

Generates realistic daily spend with known anomalies (`generator`), forecasts it with every method of the
engine beside the seed's baselines, classic seasonal-naive and statsforecast's AutoETS (in its own
environment, `autoets`), scans it with the anomaly detectors, and writes bench/ACCURACY.md.
"""
