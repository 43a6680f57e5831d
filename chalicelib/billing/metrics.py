"""Revenue metrics for the admin dashboard: MRR, live subscriptions by tier, and churn over a period, read from the
subscription records (the listing index; every subscription is read, which suits this scale)."""

from __future__ import annotations

from datetime import datetime

from chalicelib import settings
from chalicelib.contract import keys
from chalicelib.store.db import Subscription


def report(since_iso: str) -> dict:
    """{mrrCents, currency, activeByTier, started, churned, churnRate} since `since_iso`: MRR sums the monthly price
    of every subscription that still gives its tier; churnRate is the share of the period's subscribers (live at its
    start or started in it) whose subscription ended in it."""
    since = datetime.fromisoformat(since_iso.replace("Z", "+00:00")).timestamp()
    mrr, by_tier = 0, dict.fromkeys(settings.PLAN_PRICES_CENTS, 0)
    started = churned = live_at_start = 0
    for item in Subscription.by_parent.query(keys.SUBSCRIPTIONS):
        if item.subscription_id is None:
            continue  # a customer that never subscribed
        begun, ended = item.started_at, item.ended_at
        if item.tier != settings.DEFAULT_TIER:
            mrr += int(item.price_cents)
            by_tier[item.tier] = by_tier.get(item.tier, 0) + 1
        if begun is not None and begun >= since:
            started += 1
        if begun is not None and begun < since and (ended is None or ended >= since):
            live_at_start += 1
        if ended is not None and ended >= since:
            churned += 1
    return {
        "mrrCents": mrr,
        "currency": settings.BILLING_CURRENCY,
        "activeByTier": by_tier,
        "started": started,
        "churned": churned,
        "churnRate": round(churned / (live_at_start + started), 4) if live_at_start + started else 0.0,
    }
