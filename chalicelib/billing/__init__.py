"""Subscriptions paid through Stripe: plans (plans.py), the subscription lifecycle (subscriptions.py), the webhook
that drives it (webhook.py) and the revenue metrics (metrics.py)."""
