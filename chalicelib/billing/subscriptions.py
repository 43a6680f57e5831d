"""The subscription lifecycle: start, change plan (an upgrade invoiced now with proration, a downgrade from the next
period), cancel at period end, resume; and `sync`, which re-reads a subscription from Stripe and derives the
account's tier from it, so replayed or reordered webhooks converge on Stripe's current state."""

from __future__ import annotations

import time
from typing import Any

from pynamodb.exceptions import PutError, TransactWriteError, UpdateError

from chalicelib import secrets, settings, views
from chalicelib.billing import plans
from chalicelib.contract import keys
from chalicelib.errors import Conflict, NotFound, PaymentRequired, ValidationError
from chalicelib.observability import logger
from chalicelib.store import stripe_api
from chalicelib.store.db import Subscription, User, now_iso, transaction
from chalicelib.tokens import Principal

LIVE = ("active", "trialing", "past_due")  # a subscription in these states can be changed or cancelled
USER_KEY = "ai3d_user_id"  # the metadata that ties a Stripe customer and subscription to a user
SYNC_ATTEMPTS = 5
START_LOCK_SECONDS = 60  # one subscribe call at a time per user (a double click must not buy twice)


def client() -> Any:
    """The Stripe client (created once per API key); a 503 while no Stripe key is configured."""
    try:
        key = secrets.stripe_api_key()
    except RuntimeError as exc:
        logger.error("billing is not configured", extra={"reason": str(exc)})
        raise stripe_api.StripeUnavailable("billing is not configured on this deployment") from exc
    return stripe_api.connect(key)


def record(user_id: str) -> Subscription | None:
    """The user's subscription record, if any."""
    try:
        return Subscription.get(*keys.subscription(user_id), consistent_read=True)
    except Subscription.DoesNotExist:
        return None


def _user(user_id: str) -> User:
    try:
        return User.get(*keys.user(user_id), consistent_read=True)
    except User.DoesNotExist:
        raise NotFound("this account no longer exists", code="ACCOUNT_UNAVAILABLE") from None


# ---------------------------------------------------------------- pure state (unit tested)
def invoice_tier(invoice: Any) -> str | None:
    """The tier an invoice pays for: the plan of its largest positive line (a cycle invoice has one line; an
    upgrade's proration invoice credits the old plan and charges the new)."""
    lines = [line for line in (invoice.get("lines") or {}).get("data", []) if int(line.get("amount") or 0) > 0]
    lines.sort(key=lambda line: int(line.get("amount") or 0), reverse=True)
    return next((t for t in (plans.tier_of_plan(plans.price_id_of(line)) for line in lines) if t), None)


def invoice_credits(invoice: Any) -> int:
    """The credits a paid invoice grants: each charged line adds its tier's monthly credits, each credited
    (negative) line takes its tier's away (an upgrade grants the difference); never negative."""
    total = 0
    for line in (invoice.get("lines") or {}).get("data", []):
        tier = plans.tier_of_plan(plans.price_id_of(line))
        amount = int(line.get("amount") or 0)
        if tier and amount:
            total += settings.TIERS[tier].monthly_credits * (1 if amount > 0 else -1)
    return max(0, total)


def effective_tier(item: Subscription, now: float) -> str:
    """What the account gets now: the paid plan while active, or past due within the grace period; else FREE."""
    if item.status in ("active", "trialing") or (
        item.status == "past_due" and item.grace_until is not None and now < float(item.grace_until)
    ):
        return item.paid_tier or settings.DEFAULT_TIER
    return settings.DEFAULT_TIER


def _period(sub: Any, name: str) -> int | None:
    value = sub.get(name)
    if value is None:  # API 2025-03-31 and later: the period is on the item
        items = (sub.get("items") or {}).get("data") or [{}]
        value = items[0].get(name)
    return int(value) if value is not None else None


def apply_state(item: Subscription, sub: Any, now: float) -> None:
    """Copy Stripe's view of subscription `sub` (its latest invoice expanded) onto `item` and derive the tier."""
    items = (sub.get("items") or {}).get("data") or []
    item.subscription_id = sub["id"]
    item.status = sub["status"]
    item.plan_tier = plans.tier_of_plan(plans.price_id_of(items[0])) if items else None
    item.price_cents = settings.PLAN_PRICES_CENTS.get(item.plan_tier or "", 0)
    item.current_period_start = _period(sub, "current_period_start")
    item.current_period_end = _period(sub, "current_period_end")
    item.cancel_at_period_end = bool(sub.get("cancel_at_period_end"))
    item.started_at = sub.get("start_date") or sub.get("created")
    item.ended_at = sub.get("ended_at")
    latest = sub.get("latest_invoice")
    if hasattr(latest, "get") and latest.get("status") == "paid":
        item.paid_tier = invoice_tier(latest) or item.paid_tier
    if item.status == "past_due":
        if item.past_due_since is None:
            item.past_due_since = int(now)
            item.grace_until = int(now + settings.BILLING_GRACE_SECONDS)
    else:
        item.past_due_since = item.grace_until = None
    item.tier = effective_tier(item, now)
    _index(item)


def _index(item: Subscription) -> None:
    """List a past-due subscription that still has its tier for the grace sweeper (gsi3), by the grace's end."""
    if item.status == "past_due" and item.tier != settings.DEFAULT_TIER and item.grace_until is not None:
        item.gsi3pk, item.gsi3sk = keys.PAST_DUE, f"{int(item.grace_until):012d}"
    else:
        item.gsi3pk = item.gsi3sk = None


# ---------------------------------------------------------------- storage
def _save(item: Subscription) -> None:
    """Write the record and the user's tier in one transaction (the record's version guards concurrent syncs)."""
    item.updated_at = now_iso()
    billed = item.tier != settings.DEFAULT_TIER
    with transaction() as tx:
        tx.save(item)
        tx.update(
            User(*keys.user(item.user_id)),
            actions=[User.tier.set(item.tier), User.billed.set(billed), User.updated_at.set(item.updated_at)],
            condition=User.pk.exists(),
        )


def sync(subscription_id: str) -> Subscription | None:
    """Re-read subscription `subscription_id` from Stripe and store what it means; None when it belongs to no user
    of ours (or to an older subscription than the user's current one)."""
    for _ in range(SYNC_ATTEMPTS):
        sub = stripe_api.call(
            client().v1.subscriptions.retrieve, subscription_id, params={"expand": ["latest_invoice"]}
        )
        user_id = (sub.get("metadata") or {}).get(USER_KEY)
        item = record(user_id) if user_id else None
        if item is None or item.customer_id != sub.get("customer"):
            logger.warning("Stripe subscription of no known user", extra={"subscription": subscription_id})
            return None
        if item.subscription_id not in (None, sub["id"]) and int(sub.get("created") or 0) < int(item.started_at or 0):
            return item  # an event about an earlier subscription of this user: the current one decides
        apply_state(item, sub, time.time())
        try:
            _save(item)
            return item
        except TransactWriteError:
            continue  # another sync wrote in between: read both again
    raise Conflict("the subscription changed concurrently; try again", code="BILLING_BUSY")


def expire_grace(now: float | None = None) -> int:
    """The sweeper: past-due subscriptions whose grace period ended drop to FREE; returns how many did."""
    now = time.time() if now is None else now
    dropped = 0
    for item in Subscription.by_status.query(keys.PAST_DUE, Subscription.gsi3sk <= f"{int(now):012d}"):
        fresh = record(item.user_id)
        if fresh is None or fresh.status != "past_due":
            continue
        fresh.tier = effective_tier(fresh, now)
        _index(fresh)
        try:
            _save(fresh)
        except TransactWriteError:
            continue  # a webhook moved it meanwhile; the next sweep looks again
        dropped += fresh.tier == settings.DEFAULT_TIER
    return dropped


# ---------------------------------------------------------------- API
def view(principal: Principal) -> dict:
    """GET /billing/subscription."""
    return views.subscription(record(principal.user_id), _user(principal.user_id).tier)


def _customer(user: User) -> Subscription:
    """The user's record with a Stripe customer, creating both the first time."""
    item = record(user.id)
    if item is not None:
        return item
    params = {"email": user.email, "metadata": {USER_KEY: user.id}}
    customer = stripe_api.call(
        client().v1.customers.create, params=params, options={"idempotency_key": f"customer-{user.id}"}
    )
    at = now_iso()
    item = Subscription(
        *keys.subscription(user.id),
        user_id=user.id,
        customer_id=customer.id,
        created_at=at,
        updated_at=at,
        gsi1pk=keys.SUBSCRIPTIONS,
        gsi1sk=f"{at}#{user.id}",
    )
    try:
        item.save(condition=Subscription.pk.does_not_exist())
    except PutError:
        return record(user.id) or item  # a concurrent first call created it (with the same customer)
    return item


def start(principal: Principal, data: dict) -> dict:
    """POST /billing/subscription {plan, paymentMethod}: subscribe with a card (a PaymentMethod id from Stripe.js);
    the first invoice is charged at once; a declined card is a 402 and leaves no subscription."""
    tier = plans.paid_tier(data.get("plan"))
    method = data.get("paymentMethod")
    if not isinstance(method, str) or not method.startswith("pm_") or len(method) > 255:
        raise ValidationError("paymentMethod must be a Stripe PaymentMethod id (pm_...)", code="INVALID_PAYMENT_METHOD")
    user = _user(principal.user_id)
    item = _customer(user)
    if item.subscription_id and item.status in LIVE:
        raise Conflict(
            "already subscribed: change the plan with PATCH /billing/subscription", code="ALREADY_SUBSCRIBED"
        )
    now = time.time()
    try:  # the one subscribe call in flight for this user (the record's version also catches a concurrent sync)
        free = Subscription.starting_until.does_not_exist() | (Subscription.starting_until < int(now))
        item.update(actions=[Subscription.starting_until.set(int(now + START_LOCK_SECONDS))], condition=free)
    except UpdateError:
        raise Conflict("a subscription is being started; try again in a minute", code="BILLING_BUSY") from None
    try:
        return _subscribe(user, item, tier, method)
    finally:
        _release_start(user.id)


def _release_start(user_id: str) -> None:
    for _ in range(SYNC_ATTEMPTS):  # the version condition loses to a concurrent webhook sync: read again
        fresh = record(user_id)
        if fresh is None or fresh.starting_until is None:
            return
        try:
            fresh.update(actions=[Subscription.starting_until.remove()])
            return
        except UpdateError:
            continue
    logger.warning("could not release the subscribe lock (it expires by itself)", extra={"user_id": user_id})


def _subscribe(user: User, item: Subscription, tier: str, method: str) -> dict:
    stripe = client().v1
    # attaching may return another id (Stripe's test ids such as pm_card_visa become a new PaymentMethod)
    attached = stripe_api.call(stripe.payment_methods.attach, method, params={"customer": item.customer_id})
    settings_params = {"invoice_settings": {"default_payment_method": attached.id}}
    stripe_api.call(stripe.customers.update, item.customer_id, params=settings_params)
    params = {
        "customer": item.customer_id,
        "items": [{"plan": plans.plan_id(tier)}],
        "metadata": {USER_KEY: user.id},
    }
    sub = stripe_api.call(stripe.subscriptions.create, params=params)
    if sub["status"] == "incomplete":  # the first charge failed: end it now rather than leave it waiting
        stripe_api.call(stripe.subscriptions.cancel, sub.id)
        raise PaymentRequired("the card was declined: nothing was charged", code="PAYMENT_FAILED")
    return views.subscription(sync(sub.id), user.tier)


def _live(principal: Principal) -> Subscription:
    item = record(principal.user_id)
    if item is None or not item.subscription_id or item.status not in LIVE:
        raise NotFound("no active subscription", code="NO_SUBSCRIPTION")
    return item


def change(principal: Principal, data: dict) -> dict:
    """PATCH /billing/subscription {plan}: a dearer plan starts now and the difference is invoiced at once; a
    cheaper one is billed from the next period (the paid plan stays until then). With a downgrade pending, the
    paid plan is put back first at no charge (so undoing a downgrade costs nothing, and an upgrade is prorated
    against what was paid)."""
    tier = plans.paid_tier(data.get("plan"))
    item = _live(principal)
    if tier == item.plan_tier:
        raise Conflict(f"the subscription is already on {tier}", code="SAME_PLAN")
    stripe = client().v1
    item_id = stripe_api.call(stripe.subscriptions.retrieve, item.subscription_id)["items"]["data"][0]["id"]

    def move(to: str, proration: str) -> None:
        """Put the subscription's one item on plan `to`."""
        params = {"items": [{"id": item_id, "plan": plans.plan_id(to)}], "proration_behavior": proration}
        stripe_api.call(stripe.subscriptions.update, item.subscription_id, params=params)

    billed = item.plan_tier or ""
    if item.paid_tier and item.paid_tier != billed:
        move(item.paid_tier, "none")  # the period is paid on paid_tier
        billed = item.paid_tier
    if tier != billed:
        dearer = settings.PLAN_PRICES_CENTS[tier] > settings.PLAN_PRICES_CENTS.get(billed, 0)
        move(tier, "always_invoice" if dearer else "none")
    return views.subscription(sync(item.subscription_id), item.tier)


def _cancel_at_period_end(principal: Principal, value: bool) -> dict:
    item = _live(principal)
    params = {"cancel_at_period_end": value}
    stripe_api.call(client().v1.subscriptions.update, item.subscription_id, params=params)
    return views.subscription(sync(item.subscription_id), item.tier)


def cancel(principal: Principal) -> dict:
    """DELETE /billing/subscription: end at the end of the paid period (the tier stays until then)."""
    return _cancel_at_period_end(principal, True)


def resume(principal: Principal) -> dict:
    """POST /billing/subscription/resume: undo a cancellation before the period ends."""
    item = _live(principal)
    if not item.cancel_at_period_end:
        raise Conflict("the subscription is not cancelled", code="NOT_CANCELLED")
    return _cancel_at_period_end(principal, False)


def end_now(principal: Principal) -> None:
    """End the caller's live subscription at once, without a refund (before the account is erased)."""
    item = record(principal.user_id)
    if item is not None and item.subscription_id and item.status in LIVE:
        stripe_api.call(client().v1.subscriptions.cancel, item.subscription_id)


def invoices(principal: Principal) -> dict:
    """GET /billing/invoices: the caller's invoices, newest first, as Stripe has them."""
    item = record(principal.user_id)
    if item is None:
        return {"invoices": []}
    listing = stripe_api.call(client().v1.invoices.list, params={"customer": item.customer_id, "limit": 24})
    found = sorted(listing.data, key=lambda inv: int(inv.get("created") or 0), reverse=True)
    return {"invoices": [views.invoice(inv, invoice_tier(inv)) for inv in found]}
