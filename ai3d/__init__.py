"""The ai3d command line client: drives the platform through its public HTTP API only."""
