"""Run by test_blender_import in its own process: import a BVH with Blender's importer and print what Blender sees."""

import json
import sys

import bpy

# isort: split
import addon_utils  # importable only once bpy is

path, frames = sys.argv[1], [int(f) for f in sys.argv[2].split(",")]
bpy.ops.wm.read_factory_settings(use_empty=True)
addon_utils.enable("io_anim_bvh", default_set=True)  # a core add-on in Blender 5.0, off in a factory-fresh bpy
assert bpy.ops.import_anim.bvh(filepath=path, frame_start=1) == {"FINISHED"}
armature = next(o for o in bpy.data.objects if o.type == "ARMATURE")
action = armature.animation_data.action
curves = action.layers[0].strips[0].channelbag(action.slots[0]).fcurves  # Blender 5 actions are layered
heads = {}
for frame in frames:
    bpy.context.scene.frame_set(frame)
    heads[frame] = {b.name: list(armature.matrix_world @ b.head) for b in armature.pose.bones}
print(
    "RESULT"
    + json.dumps(
        {
            "bones": [b.name for b in armature.data.bones],
            "parents": [b.parent.name if b.parent else None for b in armature.data.bones],
            "frameRange": list(action.frame_range),
            "curves": len(curves),
            "keys": sorted({len(c.keyframe_points) for c in curves}),
            "heads": heads,
        }
    )
)
