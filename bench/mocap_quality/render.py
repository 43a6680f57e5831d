"""Render animated figure GLBs to an MP4 with Blender's Workbench engine (textured, studio light, a tiled floor).

Run in its own process: python -m bench.mocap_quality.render OUT.mp4 FPS FRAMES X,Y,Z,PITCH FIGURE.glb [...]
The camera looks along -Z (glTF axes) from (X, Y, Z), tipped down by PITCH degrees, with a horizontal field of view
of FOV_DEGREES.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import bpy
import cv2
import numpy as np

WIDTH, HEIGHT = 640, 480
FOV_DEGREES = 65.0  # across the longer side: the pose stage's default cameraFovDegrees


def _floor() -> None:
    """A 20 m tiled floor with a checker texture, so the ground reads as ground."""
    size = 256
    tiles = ((np.indices((size, size)) // 16).sum(axis=0) % 2).astype(np.float32)
    shade = 0.35 + 0.15 * tiles
    rgba = np.stack([shade * 0.9, shade * 0.85, shade * 0.8, np.ones_like(shade)], -1)
    image = bpy.data.images.new("floor", size, size)
    image.pixels.foreach_set(rgba.ravel())
    image.pack()
    bpy.ops.mesh.primitive_plane_add(size=20.0, location=(0.0, 0.0, 0.0))
    plane = bpy.context.active_object
    material = bpy.data.materials.new("floor")
    nodes = material.node_tree.nodes
    tex = nodes.new("ShaderNodeTexImage")
    tex.image = image
    material.node_tree.links.new(tex.outputs["Color"], nodes["Principled BSDF"].inputs["Base Color"])
    plane.data.materials.append(material)
    for loop_uv in plane.data.uv_layers.active.data:
        loop_uv.uv = (loop_uv.uv[0] * 8, loop_uv.uv[1] * 8)


def main(out: Path, fps: float, frames: int, camera: tuple[float, float, float, float], figures: list[Path]) -> None:
    """Import the figures, render `frames` frames seen from `camera` (glTF x, y, z in metres, then the downward
    pitch in degrees) into an mp4v MP4."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = int(round(fps)), 1.0  # before importing: keys land on frames at this rate
    for path in figures:
        bpy.ops.import_scene.gltf(filepath=str(path))
    _floor()
    x, y, z, pitch = camera
    view = bpy.data.objects.new("camera", bpy.data.cameras.new("camera"))
    view.location = (x, -z, y)  # glTF (x, y, z) -> Blender (x, -z, y)
    view.rotation_euler = (math.radians(90 - pitch), 0.0, 0.0)
    view.data.sensor_fit = "HORIZONTAL"
    view.data.angle = math.radians(FOV_DEGREES)
    scene.collection.objects.link(view)
    scene.camera = view
    scene.render.engine = "BLENDER_WORKBENCH"
    scene.display.shading.light = "STUDIO"
    scene.display.shading.color_type = "TEXTURE"
    scene.display.shading.show_shadows = True
    scene.display.shading.show_cavity = False
    scene.display.render_aa = "FXAA"
    scene.render.resolution_x, scene.render.resolution_y = WIDTH, HEIGHT
    scene.render.resolution_percentage = 100
    scene.world = bpy.data.worlds.new("world")
    scene.world.color = (0.42, 0.45, 0.5)
    scene.render.image_settings.file_format = "PNG"
    frame_png = out.with_suffix(".frame.png")
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, (WIDTH, HEIGHT))
    for action in bpy.data.actions:  # imported animations start at frame 0 or 1: key k is frame first + k
        action.use_fake_user = True
    first = int(min(a.frame_range[0] for a in bpy.data.actions))
    for k in range(frames):
        scene.frame_set(first + k)
        scene.render.filepath = str(frame_png)
        bpy.ops.render.render(write_still=True)
        writer.write(cv2.imread(str(frame_png)))
    writer.release()
    frame_png.unlink()


if __name__ == "__main__":
    x, y, z, pitch = (float(v) for v in sys.argv[4].split(","))
    main(Path(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), (x, y, z, pitch), [Path(p) for p in sys.argv[5:]])
