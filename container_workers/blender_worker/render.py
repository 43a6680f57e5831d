"""A small PNG thumbnail of the scene, rendered with Cycles on the CPU (no GPU or display needed)."""

from __future__ import annotations

import math
from pathlib import Path

import bpy
import numpy as np
from mathutils import Vector

from container_workers.blender_worker import stats

_VIEW = Vector((0.55, -1.0, 0.4)).normalized()  # from the front-right, a little above (characters face -Y in Blender)


def _world_bounds() -> tuple[np.ndarray, np.ndarray]:
    """Axis-aligned bounds of the evaluated (posed) meshes."""
    depsgraph = bpy.context.evaluated_depsgraph_get()
    corners = [
        np.array([tuple(obj.matrix_world @ Vector(c)) for c in obj.evaluated_get(depsgraph).bound_box])
        for obj in stats.mesh_objects()
    ]
    points = np.vstack(corners)
    return points.min(axis=0), points.max(axis=0)


def thumbnail(path: Path, size: int = 256, samples: int = 16) -> Path:
    """Render the scene's meshes at the current frame to a transparent PNG of size x size pixels."""
    scene = bpy.context.scene
    low, high = _world_bounds()
    centre = Vector(((low + high) / 2).tolist())
    radius = max(float(np.linalg.norm(high - low)) / 2, 1e-3)
    cam_data = bpy.data.cameras.new("ThumbnailCamera")
    cam_data.lens_unit, cam_data.angle = "FOV", math.radians(35)
    cam_data.clip_start, cam_data.clip_end = radius * 0.01, radius * 100
    camera = bpy.data.objects.new("ThumbnailCamera", cam_data)
    camera.location = centre + _VIEW * (radius / math.sin(cam_data.angle / 2) * 1.05)
    camera.rotation_euler = (centre - camera.location).to_track_quat("-Z", "Y").to_euler()
    sun_data = bpy.data.lights.new("ThumbnailSun", "SUN")
    sun = bpy.data.objects.new("ThumbnailSun", sun_data)
    sun_data.energy = 3.0
    sun.rotation_euler = (math.radians(40), math.radians(10), math.radians(30))
    for obj in (camera, sun):
        scene.collection.objects.link(obj)
    world = scene.world or bpy.data.worlds.new("ThumbnailWorld")
    scene.world = world
    world.color = (0.5, 0.5, 0.5)
    if world.node_tree and "Background" in world.node_tree.nodes:
        world.node_tree.nodes["Background"].inputs["Color"].default_value = (0.5, 0.5, 0.5, 1.0)
    scene.camera = camera
    scene.render.engine = "CYCLES"
    scene.cycles.device, scene.cycles.samples, scene.cycles.use_denoising = "CPU", samples, False
    scene.cycles.seed = 0
    scene.render.resolution_x = scene.render.resolution_y = size
    scene.render.resolution_percentage = 100
    scene.render.film_transparent = True
    scene.render.image_settings.file_format = "PNG"
    scene.render.image_settings.color_mode = "RGBA"
    scene.render.filepath = str(path)
    try:
        bpy.ops.render.render(write_still=True)
    finally:
        for obj in (camera, sun):
            bpy.data.objects.remove(obj)
        bpy.data.cameras.remove(cam_data)
        bpy.data.lights.remove(sun_data)
    return path
