"""The Blender stages take their formats, bounds and defaults from the contract (chalicelib/contract)."""

from __future__ import annotations

import pytest

from chalicelib.contract import formats as contract_formats
from chalicelib.contract.jobtypes import EXPORT_FORMATS, STAGE_PARAMS
from container_workers.blender_worker import formats, optimize
from container_workers.blender_worker.__main__ import STAGES
from container_workers.common.stage import BadInputError


def test_model_formats_are_the_contracts_and_every_one_is_handled():
    assert formats.MODEL_FORMATS is contract_formats.MODEL_FORMATS
    assert set(formats.HOLDS) == set(formats.MODEL_FORMATS)
    assert set(formats._IMPORTERS) == {*formats.MODEL_FORMATS, "bvh"}
    assert set(STAGE_PARAMS["convert"]["format"].choices) == set(formats.MODEL_FORMATS)
    assert set(EXPORT_FORMATS) <= set(formats.MODEL_FORMATS)


def test_the_worker_serves_the_contracts_blender_stages():
    from chalicelib.contract.jobtypes import JOB_TYPES

    assert set(STAGES) == {s.name for t in JOB_TYPES.values() for s in t.stages if s.worker == "blender"}


def test_optimize_defaults_are_the_contracts():
    spec = STAGE_PARAMS["optimize"]
    assert optimize._validate({}) == {
        "target": None,
        "ratio": None,
        "errorBound": None,
        "maxTextureSize": spec["maxTextureSize"].default,
        "cleanup": spec["cleanup"].default,
        "merge": spec["mergeDistance"].default,
        "compression": spec["compression"].default,
        "keepNames": spec["keepNames"].default,
        "lods": list(spec["lods"].default),
    }
    assert spec["compression"].default == "meshopt"
    assert optimize._validate({"ratio": 0.5, "maxTextureSize": 512, "lods": [0.5, 0.25]})["lods"] == [0.5, 0.25]


@pytest.mark.parametrize(
    "params, code",
    [
        ({"targetTriangles": 3}, "INVALID_PARAMS"),  # below the contract's minimum
        ({"maxTextureSize": 1000}, "INVALID_PARAMS"),  # not one of the contract's sizes
        ({"mergeDistance": 2}, "INVALID_PARAMS"),
        ({"compression": "zip"}, "INVALID_PARAMS"),
        ({"errorBound": 0.9}, "INVALID_PARAMS"),
        ({"lods": [0.5] * 5}, "INVALID_PARAMS"),
        ({"targetTriangles": 10, "ratio": 0.5}, "INVALID_PARAMS"),
        ({"targetTriangles": 10, "errorBound": 0.01}, "INVALID_PARAMS"),
    ],
)
def test_optimize_refuses_what_the_contract_refuses(params, code):
    with pytest.raises(BadInputError) as err:
        optimize._validate(params)
    assert err.value.code == code and not err.value.retryable
