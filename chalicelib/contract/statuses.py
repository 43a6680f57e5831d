"""Lifecycles and kinds: job and asset statuses, asset kinds, roles, ledger entry types."""

from __future__ import annotations

JOB_STATUSES = ("PENDING", "PROCESSING", "COMPLETED", "FAILED", "CANCELLED")
ACTIVE = ("PENDING", "PROCESSING")
TERMINAL = ("COMPLETED", "FAILED", "CANCELLED")
REFUNDED = ("FAILED", "CANCELLED")

ASSET_STATUSES = ("PENDING_UPLOAD", "READY", "REJECTED")
ASSET_KINDS = ("IMAGE", "VIDEO", "MODEL_3D", "ANIMATION")

ROLES = ("USER", "ADMIN")
LEDGER_TYPES = ("DEBIT", "REFUND", "GRANT", "ADJUST")

WORKER_KINDS = ("gpu", "blender")
