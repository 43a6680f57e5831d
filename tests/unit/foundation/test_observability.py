"""The Lambdas' JSON logs and EMF metrics: the fields CloudWatch queries rely on, request keys, and what a cold start
imports."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

from chalicelib import observability
from chalicelib.observability import JsonFormatter, Logger, Metrics

ROOT = Path(__file__).resolve().parents[3]


def _lines(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_a_record_is_one_json_line_with_the_request_keys_and_its_extra_fields(capsys):
    logger = Logger("test-service-a")
    logger.append_keys(request_id="r-1", user_id=None)
    logger.info("job created", extra={"job_id": "j-1", "cost": 3})
    logger.remove_keys(["request_id"])
    logger.warning("after the request")

    first, second = _lines(capsys)
    assert first["level"] == "INFO" and first["message"] == "job created"
    assert first["service"] == observability.SERVICE
    assert (first["request_id"], first["job_id"], first["cost"]) == ("r-1", "j-1", 3)
    assert "user_id" not in first  # a None key is not logged
    assert first["location"].startswith("test_a_record_is_one_json_line")
    assert first["timestamp"].endswith("+0000")
    assert second["level"] == "WARNING" and "request_id" not in second


def test_an_exception_is_logged_with_its_name_and_traceback_and_the_trace_id(capsys, monkeypatch):
    monkeypatch.setenv("_X_AMZN_TRACE_ID", "Root=1-abc-def;Parent=123;Sampled=1")
    logger = Logger("test-service-b")
    try:
        raise KeyError("missing")
    except KeyError:
        logger.exception("unhandled error")

    (entry,) = _lines(capsys)
    assert entry["level"] == "ERROR" and entry["exception_name"] == "KeyError"
    assert "Traceback" in entry["exception"] and "missing" in entry["exception"]
    assert entry["xray_trace_id"] == "1-abc-def"


def test_the_level_filters_records(capsys):
    logger = Logger("test-service-c")
    logger.debug("not shown at INFO")
    assert capsys.readouterr().out == ""
    logger.info("shown")
    logger.warning("shown too")
    assert [(line["level"], line["message"]) for line in _lines(capsys)] == [
        ("INFO", "shown"),
        ("WARNING", "shown too"),
    ]


def test_metrics_print_one_emf_document_with_repeated_values_as_a_list(capsys):
    metrics = Metrics("AI3D", "ai3d-api")
    metrics.add_metric(name="JobsCreated", unit="Count", value=1)
    metrics.add_metric(name="JobsCreated", unit="Count", value=1)
    metrics.add_metric(name="JobSeconds", unit="Seconds", value=2.5)
    metrics.flush_metrics()

    (document,) = _lines(capsys)
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "AI3D" and directive["Dimensions"] == [["service"]]
    assert directive["Metrics"] == [{"Name": "JobsCreated", "Unit": "Count"}, {"Name": "JobSeconds", "Unit": "Seconds"}]
    assert document["service"] == "ai3d-api"
    assert (document["JobsCreated"], document["JobSeconds"]) == ([1, 1], 2.5)
    assert isinstance(document["_aws"]["Timestamp"], int)
    assert metrics.metric_set == {}  # flushed
    metrics.flush_metrics()
    assert capsys.readouterr().out == ""  # nothing collected, nothing printed


def test_more_than_a_hundred_metrics_are_split_across_documents():
    metrics = Metrics("AI3D", "ai3d-api")
    for index in range(150):
        metrics.add_metric(name=f"M{index}", unit="Count", value=index)
    documents = metrics.documents()
    assert [len(d["_aws"]["CloudWatchMetrics"][0]["Metrics"]) for d in documents] == [100, 50]
    assert documents[1]["M149"] == 149


def test_the_formatter_keeps_only_the_extra_fields_of_a_record():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello %s", ("there",), None)
    record.asset_id = "a-1"
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "hello there" and entry["asset_id"] == "a-1"
    assert not {"args", "msg", "pathname", "levelno", "threadName"} & set(entry)


def test_a_cold_start_never_imports_powertools():
    """Logs and metrics are the standard library's; Powertools is loaded for tracing and SQS batches only, when used."""
    code = "import sys, app; print(sorted({m.split('.')[0] for m in sys.modules} & {'aws_lambda_powertools', 'aws_xray_sdk'}))"
    shown = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == "[]"
