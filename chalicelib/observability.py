"""Powertools Logger, Metrics and Tracer shared by every handler (structured JSON logs, EMF metrics)."""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "ai3d-api")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "AI3D")
# X-Ray has no daemon locally; the tracer is active only where Lambda provides one.
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "false" if os.environ.get("AWS_LAMBDA_FUNCTION_NAME") else "true")

logger = Logger(service=SERVICE)
metrics = Metrics(service=SERVICE)
tracer = Tracer(service=SERVICE)


def flush() -> None:
    """Emit the collected EMF metrics, if any (Lambda handlers call this at the end of an invocation)."""
    if metrics.metric_set:
        metrics.flush_metrics()
