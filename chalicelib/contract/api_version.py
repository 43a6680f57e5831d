"""The HTTP API's version and its base path: the API serves every route under it, the CLI and the web app call it."""

from __future__ import annotations

VERSION = "v1"
BASE_PATH = f"/{VERSION}"  # every route is also served without it, for clients written before it existed
