"""The embedded AWS emulator: moto's server (server.py, `python -m devstack.emulator.server`) plus the patches that
close the gaps between moto and AWS the platform relies on (patch_*.py).

Each patch names the moto gap it fills and the moto version it was checked against; a canary test
(tests/unit/devstack/test_emulator_canaries.py) runs unpatched moto and fails once moto closes the gap,
saying which patch to drop.
"""
