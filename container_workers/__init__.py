"""Long-running workers that poll SQS and run stage functions (gpu: MediaPipe, blender: bpy)."""
