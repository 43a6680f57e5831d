"""export: a mocap BVH becomes a skinned, animated mannequin in GLB/FBX/BLEND with a thumbnail; rigs re-export."""

from __future__ import annotations

import bpy
import numpy as np
import pytest
from PIL import Image

from container_workers.blender_worker import mannequin, stats
from container_workers.blender_worker.export import export
from container_workers.common.stage import BadInputError
from tests.gltf_validator import assert_valid
from tests.unit.blender import builders
from tests.unit.blender.conftest import no_progress, posed_joints, reimport, worst_bone_angle


def test_bvh_becomes_an_animated_skinned_character(bvh_file, tmp_path):
    result = export({"model": bvh_file}, {}, tmp_path, no_progress)
    outputs = {o.role: o for o in result.outputs}
    assert set(outputs) == {"glb", "fbx", "blend", "thumbnail"}
    assert {o.kind for r, o in outputs.items() if r != "thumbnail"} == {"ANIMATION"}
    assert outputs["thumbnail"].kind == "IMAGE"
    assert result.metadata["frames"] == builders.FRAMES and result.metadata["bones"] == 22
    assert result.metadata["fps"] == pytest.approx(builders.FPS, rel=1e-3)
    assert assert_valid(outputs["glb"].path)["issues"]["numWarnings"] == 0  # no NODE_SKINNED_MESH_NON_ROOT
    expected = builders.bvh_joint_positions(bvh_file)
    for role in ("glb", "fbx", "blend"):
        got = reimport(outputs[role].path, tmp_path / role)
        assert (got.bones, got.frames, got.meshes) == (22, builders.FRAMES, 1), role
        assert {"skeleton", "animation"} <= got.features
        span = stats.frame_range()
        assert span[0] == 1, role  # FBX too: its animation starts at time 0, which Blender reads as frame 1
        moved = posed_joints(span[0], builders.FRAMES)
        assert worst_bone_angle(moved, expected) < 1.0, role
        assert np.allclose(moved[:, 0], expected[:, 0], atol=1e-3), role  # the hips travel as captured


def test_mannequin_soles_are_flat_just_under_the_feet(bvh_file, tmp_path):
    export({"model": bvh_file}, {"formats": ["blend"]}, tmp_path, no_progress)
    mesh = next(o for o in bpy.data.objects if o.type == "MESH")
    armature = next(o for o in bpy.data.objects if o.type == "ARMATURE")
    assert mesh.parent is None  # glTF: a skinned mesh is a root node
    lowest_joint = min(b.tail_local[2] for b in armature.data.bones if b.name.endswith(("Foot", "ToeBase")))
    rest = np.array([v.co[2] for v in mesh.data.vertices])
    assert rest.min() == pytest.approx(lowest_joint - mannequin.SOLE_BELOW_JOINTS, abs=1e-4)


def test_thumbnail_is_a_small_picture_of_the_model(bvh_file, tmp_path):
    result = export({"model": bvh_file}, {"formats": ["glb"]}, tmp_path, no_progress)
    assert [o.role for o in result.outputs] == ["glb", "thumbnail"]
    image = np.asarray(Image.open(result.outputs[1].path))
    assert image.shape == (256, 256, 4)
    covered = (image[..., 3] > 0).mean()
    assert 0.03 < covered < 0.6  # the figure is there, framed, on a transparent background


def test_rigged_avatar_is_re_exported(animated_sources, tmp_path):
    path, ref = animated_sources["fbx"]
    result = export({"model": path}, {"formats": ["glb", "blend"]}, tmp_path, no_progress)
    for out in result.outputs[:2]:
        got = reimport(out.path, tmp_path / out.role)
        assert (got.triangles, got.bones, got.frames) == (ref.triangles, ref.bones, ref.frames)


def test_static_model_is_model_3d(static_sources, tmp_path):
    result = export({"model": static_sources["glb"][0]}, {"formats": ["glb"]}, tmp_path, no_progress)
    assert result.outputs[0].kind == "MODEL_3D"
    assert_valid(result.outputs[0].path)


def test_unknown_format_is_refused(bvh_file, tmp_path):
    with pytest.raises(BadInputError) as err:
        export({"model": bvh_file}, {"formats": ["glb", "obj"]}, tmp_path, no_progress)
    assert err.value.code == "INVALID_PARAMS"


def test_a_bvh_with_finger_bones_exports_a_mannequin_with_fingers(tmp_path):
    from scipy.spatial.transform import Rotation

    from container_workers.common import skeleton
    from container_workers.gpu_worker.exchange.bvh import write_bvh

    frames, names = 6, skeleton.names(hands=True)
    R = np.tile(np.eye(3), (frames, len(names), 1, 1))
    curl = Rotation.from_euler("z", np.linspace(0, -80, frames)[:, None], degrees=True).as_matrix()
    for name in skeleton.HAND_NAMES:
        R[:, skeleton.INDEX[name]] = curl if name.startswith("Left") else np.swapaxes(curl, 1, 2)
    root = np.tile(skeleton.rest_positions()[0], (frames, 1))
    write_bvh(tmp_path / "hands.bvh", R, root, 30.0)
    result = export({"model": tmp_path / "hands.bvh"}, {"formats": ["glb", "fbx"]}, tmp_path / "out", no_progress)
    assert result.metadata["bones"] == len(names) == 52
    outputs = {o.role: o.path for o in result.outputs}
    assert assert_valid(outputs["glb"])["issues"]["numWarnings"] == 0
    for role in ("glb", "fbx"):
        got = reimport(outputs[role], tmp_path / role)
        assert (got.bones, got.frames) == (52, frames), role
        assert stats.frame_range()[0] == 1, role
