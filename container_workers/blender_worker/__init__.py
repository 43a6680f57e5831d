"""The Blender worker: convert, optimize, export and retarget with bpy, one task at a time."""
