"""Powertools Logger and Metrics shared by every handler (structured JSON logs, EMF metrics), and a Tracer made on first use."""

from __future__ import annotations

import functools
import os

from aws_lambda_powertools import Logger, Metrics

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "ai3d-api")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "AI3D")
# X-Ray has no daemon locally; the tracer is active only where Lambda provides one.
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "false" if os.environ.get("AWS_LAMBDA_FUNCTION_NAME") else "true")
TRACING = os.environ["POWERTOOLS_TRACE_DISABLED"].lower() not in ("true", "1")

logger = Logger(service=SERVICE)
metrics = Metrics(service=SERVICE)


class LazyTracer:
    """Powertools' Tracer, created at the first traced call: importing aws_xray_sdk costs ~0.1 s, which no cold start
    should pay for a function that may never trace; with tracing off (locally) it is never imported."""

    def __init__(self, service: str):
        self.service = service

    @functools.cached_property
    def _tracer(self):
        from aws_lambda_powertools import Tracer

        return Tracer(service=self.service)

    def capture_method(self, method):
        """`method`, traced as an X-Ray subsegment per call when tracing is on; called as is otherwise."""
        traced = None

        @functools.wraps(method)
        def call(*args, **kwargs):
            nonlocal traced
            if traced is None:
                traced = self._tracer.capture_method(method) if TRACING else method
            return traced(*args, **kwargs)

        return call


tracer = LazyTracer(SERVICE)


def flush() -> None:
    """Emit the collected EMF metrics, if any (Lambda handlers call this at the end of an invocation)."""
    if metrics.metric_set:
        metrics.flush_metrics()
