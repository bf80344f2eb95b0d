"""Cost anomalies: unusual daily spend per tenant and category, what drove it, who reviewed it, and alerts.

The package exports the pure maths (`detect` for one daily series, `root_cause` for one day). The rest:
- `detection` (and `seasonal`, its seasonal/auto scorer), `root_cause`: the maths, no I/O;
- `models`: the endpoints' request and reply models; `ids`: anomaly ids that say their day, category and method;
- `store`: all the anomalies' SQL (ClickHouse), typed rows;
- `scan`: detection over the stored spend, with explanations and replies; `review`: the endpoints' use cases
  (list, acknowledge); `job`: the 03:00 daily detection that stores what it finds;
- `alerts`: the alert message of an anomaly, queued in the notification outbox; `wiring`: connects the job to
  PostgreSQL's outbox and SNS.
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
