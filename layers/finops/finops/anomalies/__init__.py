"""Anomaly detection maths (pure functions): `detect` for one daily series, `root_cause` for one day.

Storage, endpoints and the daily job live elsewhere and feed these with ClickHouse data.
"""

from finops.anomalies.detection import (
    ANOMALY_METHODS,
    AnomalyMethod,
    Detection,
    Direction,
    Severity,
    detect,
    detect_many,
    detect_range,
    history_start,
    severity_of,
)
from finops.anomalies.root_cause import Contributor, root_cause

__all__ = [
    "ANOMALY_METHODS",
    "AnomalyMethod",
    "Contributor",
    "Detection",
    "Direction",
    "Severity",
    "detect",
    "detect_many",
    "detect_range",
    "history_start",
    "root_cause",
    "severity_of",
]
