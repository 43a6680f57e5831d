"""Motion capture: the `pose` stage (stage.py) turns a video of a person into a BVH of the shared skeleton."""
