"""Exchange formats shared by the stages: glTF binary (gltf.py) and BVH (bvh.py)."""
