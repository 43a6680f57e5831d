"""Tests of the Blender worker stages (real bpy)."""
