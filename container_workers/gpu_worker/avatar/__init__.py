"""TEXT_TO_AVATAR: the `avatar` stage (stage.py) turns a prompt into a rigged, textured humanoid GLB."""
