"""The backend registry: defaults, selection by environment, and a clear error for an unknown backend."""

from __future__ import annotations

import pytest

from container_workers.common.stage import StageError, StageResult
from container_workers.gpu_worker import generators
from container_workers.gpu_worker.avatar.stage import avatar
from container_workers.gpu_worker.image_to_3d.stage import reconstruct


def test_the_classical_backends_are_the_defaults(monkeypatch):
    monkeypatch.delenv("IMAGE_TO_3D_BACKEND", raising=False)
    monkeypatch.delenv("TEXT_TO_AVATAR_BACKEND", raising=False)
    assert generators.backend(generators.IMAGE_TO_3D).name == "inflate"
    assert generators.backend(generators.TEXT_TO_AVATAR).name == "parametric"


def test_a_registered_backend_is_selected_by_environment(monkeypatch, tmp_path):
    class Recorder:
        name = "recorder"

        def __init__(self):
            self.calls = []

        def generate(self, inputs, params, workdir, progress):
            self.calls.append(params)
            return StageResult(outputs=[], metadata={"backend": self.name})

    recorder = Recorder()
    monkeypatch.setitem(
        generators._REGISTRY, generators.TEXT_TO_AVATAR, dict(generators._REGISTRY[generators.TEXT_TO_AVATAR])
    )
    generators.register(generators.TEXT_TO_AVATAR, recorder)
    monkeypatch.setenv("TEXT_TO_AVATAR_BACKEND", "recorder")
    result = avatar({}, {"prompt": "  a tall man  "}, tmp_path, lambda *_: None)
    assert result.metadata == {"backend": "recorder"}
    assert recorder.calls == [
        {"prompt": "a tall man", "seed": 0, "pose": "T", "targetTriangles": 30000, "textureSize": 1024}
    ]
    assert generators.backends(generators.TEXT_TO_AVATAR) == ["parametric", "recorder"]


def test_an_unknown_backend_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("IMAGE_TO_3D_BACKEND", "triposr")
    with pytest.raises(StageError) as error:
        reconstruct({"image": tmp_path / "x.png"}, {}, tmp_path, lambda *_: None)
    assert error.value.code == "BACKEND_UNAVAILABLE" and "inflate" in error.value.message
