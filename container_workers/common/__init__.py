"""Code shared by every worker: the stage contract, the worker protocol and the humanoid skeleton."""
