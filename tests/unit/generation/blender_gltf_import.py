"""Run by test_blender_import in its own process: import a GLB with Blender's glTF importer and print what Blender sees."""

import json
import sys

import bpy

bpy.ops.wm.read_factory_settings(use_empty=True)
assert bpy.ops.import_scene.gltf(filepath=sys.argv[1]) == {"FINISHED"}
armature = next(o for o in bpy.data.objects if o.type == "ARMATURE")
mesh = next(o for o in bpy.data.objects if o.type == "MESH")
groups = {g.index: g.name for g in mesh.vertex_groups}
weighted = dict.fromkeys(groups.values(), 0)
unweighted = 0
for vertex in mesh.data.vertices:
    total = 0.0
    for g in vertex.groups:
        weighted[groups[g.group]] += g.weight > 0
        total += g.weight
    unweighted += total < 0.99
print(
    "RESULT"
    + json.dumps(
        {
            "bones": [b.name for b in armature.data.bones],
            "parents": [b.parent.name if b.parent else None for b in armature.data.bones],
            "groups": weighted,
            "unweighted": unweighted,
            "vertices": len(mesh.data.vertices),
            "modifiers": [m.type for m in mesh.modifiers if m.type == "ARMATURE" and m.object == armature],
            "images": len(bpy.data.images),
        }
    )
)
