"""IMAGE_TO_3D: the `reconstruct` stage (stage.py) turns a photo into a textured, watertight GLB."""
