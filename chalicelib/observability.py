"""Structured JSON logs and CloudWatch EMF metrics for the Lambdas, on the standard library (Powertools' Logger and
Metrics import its whole package: ~5 % of the API's cold start, bench/coldstart), and Powertools' Tracer made on first
use. The field names are Powertools' (level, location, message, timestamp, service, xray_trace_id), so its log
queries and dashboards apply unchanged."""

from __future__ import annotations

import contextvars
import functools
import json
import logging
import os
import sys
import time
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "ai3d-api")
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "AI3D")
LOG_LEVEL = os.environ.get("POWERTOOLS_LOG_LEVEL") or os.environ.get("LOG_LEVEL") or "INFO"
# X-Ray has no daemon locally; the tracer is active only where Lambda provides one.
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "false" if os.environ.get("AWS_LAMBDA_FUNCTION_NAME") else "true")
TRACING = os.environ["POWERTOOLS_TRACE_DISABLED"].lower() not in ("true", "1")
MAX_METRICS_PER_DOCUMENT = 100  # CloudWatch's limit for one EMF document

_keys: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar("log_keys", default=MappingProxyType({}))
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: level, location, message, timestamp, service, the appended keys, the record's
    `extra` fields, the X-Ray trace id on Lambda and, for an exception, its name and traceback."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        entry: dict[str, Any] = {
            "level": record.levelname,
            "location": f"{record.funcName}:{record.lineno}",
            "message": record.getMessage(),
            "timestamp": self.formatTime(record, "%Y-%m-%d %H:%M:%S") + f",{int(record.msecs):03d}+0000",
            "service": SERVICE,
            **_keys.get(),
            **{name: value for name, value in vars(record).items() if name not in _RECORD_FIELDS},
        }
        trace = os.environ.get("_X_AMZN_TRACE_ID", "")
        if trace:
            entry["xray_trace_id"] = trace.split(";")[0].removeprefix("Root=")
        if record.exc_info and record.exc_info[0] is not None:
            entry["exception_name"] = record.exc_info[0].__name__
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


JsonFormatter.converter = time.gmtime


class Logger(logging.LoggerAdapter):
    """The service's logger: `logger.info(message, extra={...})`, plus keys appended to every record of the current
    request (`append_keys`, `remove_keys`; held per thread of execution, so concurrent requests never mix them)."""

    def __init__(self, service: str):
        base = logging.getLogger(service)
        if not base.handlers:
            handler = logging.StreamHandler(sys.stdout)
            handler.setFormatter(JsonFormatter())
            base.addHandler(handler)
        base.setLevel(LOG_LEVEL.upper())
        base.propagate = False
        super().__init__(base, {})

    def process(self, msg, kwargs):
        """Pass `extra` through untouched (the adapter's default would replace it)."""
        return msg, kwargs

    def append_keys(self, **keys: Any) -> None:
        """Add `keys` to every following record of this request."""
        _keys.set({**_keys.get(), **{name: value for name, value in keys.items() if value is not None}})

    def remove_keys(self, names: list[str]) -> None:
        """Stop adding the named keys."""
        _keys.set({name: value for name, value in _keys.get().items() if name not in names})


class Metrics:
    """CloudWatch metrics in the Embedded Metric Format: `add_metric` collects, `flush_metrics` prints one EMF
    document per 100 metrics to stdout (CloudWatch Logs turns them into metrics; the service is the dimension)."""

    def __init__(self, namespace: str, service: str):
        self.namespace = namespace
        self.service = service
        self.metric_set: dict[str, dict[str, Any]] = {}

    def add_metric(self, name: str, unit: str, value: float) -> None:
        """Record one value of a metric (repeated values of a name travel as a list, as EMF allows)."""
        metric = self.metric_set.setdefault(name, {"Unit": unit, "Value": []})
        metric["Value"].append(value)

    def documents(self) -> list[dict[str, Any]]:
        """The EMF documents for the collected metrics."""
        names = list(self.metric_set)
        chunks = [names[i : i + MAX_METRICS_PER_DOCUMENT] for i in range(0, len(names), MAX_METRICS_PER_DOCUMENT)]
        return [
            {
                "_aws": {
                    "Timestamp": int(time.time() * 1000),
                    "CloudWatchMetrics": [
                        {
                            "Namespace": self.namespace,
                            "Dimensions": [["service"]],
                            "Metrics": [{"Name": name, "Unit": self.metric_set[name]["Unit"]} for name in chunk],
                        }
                    ],
                },
                "service": self.service,
                **{name: _one_or_list(self.metric_set[name]["Value"]) for name in chunk},
            }
            for chunk in chunks
        ]

    def flush_metrics(self) -> None:
        """Print the collected metrics and start over."""
        for document in self.documents():
            print(json.dumps(document), flush=True)
        self.clear_metrics()

    def clear_metrics(self) -> None:
        """Forget the collected metrics without printing them."""
        self.metric_set = {}


def _one_or_list(values: list[float]) -> float | list[float]:
    return values[0] if len(values) == 1 else values


logger = Logger(SERVICE)
metrics = Metrics(NAMESPACE, SERVICE)


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
