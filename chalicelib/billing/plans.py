"""The plans: FREE plus one Stripe product and monthly plan per paid tier, their ids derived from the tier, created
idempotently by the deploy step; and what a Stripe invoice line or subscription item says about the tier."""

from __future__ import annotations

from typing import Any

from chalicelib import settings
from chalicelib.store import stripe_api

PREFIX = "ai3d-"


def plan_id(tier: str) -> str:
    """The Stripe plan (price) id of a paid tier, e.g. ai3d-pro-monthly."""
    return f"{PREFIX}{tier.lower()}-monthly"


def product_id(tier: str) -> str:
    """The Stripe product id of a paid tier, e.g. ai3d-pro."""
    return f"{PREFIX}{tier.lower()}"


def tier_of_plan(stripe_plan_id: str | None) -> str | None:
    """The paid tier a Stripe plan (price) id stands for, or None for anything else."""
    return next((tier for tier in settings.PLAN_PRICES_CENTS if plan_id(tier) == stripe_plan_id), None)


def price_id_of(item: Any) -> str | None:
    """The plan (price) id of a subscription item or invoice line: `plan.id` (the emulator, older API versions),
    `price.id`, or `pricing.price_details.price` (API 2025-03-31 and later)."""
    for path in (("plan", "id"), ("price", "id"), ("pricing", "price_details", "price")):
        value: Any = item
        for name in path:
            value = value.get(name) if hasattr(value, "get") else None
        if isinstance(value, str):
            return value
    return None


def paid_tier(name: Any) -> str:
    """The paid tier a request names, or a ValidationError."""
    from chalicelib.errors import ValidationError

    if not isinstance(name, str) or name.upper() not in settings.PLAN_PRICES_CENTS:
        raise ValidationError(f"plan must be one of {', '.join(settings.PLAN_PRICES_CENTS)}", code="INVALID_PLAN")
    return name.upper()


def catalog() -> list[dict]:
    """GET /billing/plans: every tier with its monthly price and limits (FREE costs nothing)."""
    return [
        {
            "tier": name,
            "priceCents": settings.PLAN_PRICES_CENTS.get(name, 0),
            "currency": settings.BILLING_CURRENCY,
            "interval": "month",
            "monthlyCredits": tier.monthly_credits,
            "maxConcurrentJobs": tier.max_concurrent_jobs,
            "maxUploadBytes": tier.max_upload_bytes,
            "maxVideoSeconds": tier.max_video_seconds,
        }
        for name, tier in settings.TIERS.items()
    ]


def ensure_catalog(api_key: str) -> list[str]:
    """Create the paid tiers' Stripe products and monthly plans that do not exist yet (the deploy step; idempotent:
    ids are derived from the tier); returns the plan ids."""
    client = stripe_api.connect(api_key)
    created = []
    for tier, cents in settings.PLAN_PRICES_CENTS.items():
        stripe_api.ensure(client, "products", product_id(tier), {"name": f"ai3d {tier.title()}"})
        params = {
            "product": product_id(tier),
            "amount": cents,
            "currency": settings.BILLING_CURRENCY,
            "interval": "month",
            "metadata": {"tier": tier},
        }
        created.append(stripe_api.ensure(client, "plans", plan_id(tier), params).id)
    return created
