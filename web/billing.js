// The plans page: plans and prices, checkout with card entry (Stripe.js; the Stripe emulator's stand-in locally),
// the current plan with cancel/resume, invoices and the credit ledger.
import * as api from "./api.js";
import { h, formatTime } from "./dom.js";
import { STRIPE_JS_URL, STRIPE_PUBLISHABLE_KEY } from "/config.js";

const LIVE = new Set(["active", "trialing", "past_due"]);
let stripeLoading = null;

/** Stripe.js, loaded once from config.js's URL (the page's CSP allows that origin only). */
function loadStripe() {
  if (!stripeLoading) {
    stripeLoading = new Promise((resolve, reject) => {
      const script = h("script", { src: STRIPE_JS_URL });
      script.addEventListener("load", () => resolve(window.Stripe(STRIPE_PUBLISHABLE_KEY)));
      script.addEventListener("error", () => { stripeLoading = null; reject(new Error("could not load Stripe.js")); });
      document.head.append(script);
    });
  }
  return stripeLoading;
}

const money = (cents, currency = "usd") => `${(cents / 100).toFixed(2)} ${currency.toUpperCase()}`;

/** Mount the billing page; returns its cleanup. */
export function billingPage(root, { errorBox, onChange }) {
  const state = { stopped: false, timer: null, checkout: null };
  const error = errorBox();
  const current = h("section", { class: "card", "data-testid": "subscription" });
  const plans = h("ul", { class: "plans", "data-testid": "plans" });
  const checkout = h("section", { class: "card checkout", hidden: true, "data-testid": "checkout" });
  const invoices = h("tbody");
  const ledger = h("tbody");

  const act = async (work) => {
    error.show("");
    try {
      await work();
    } catch (err) {
      error.show(err.message);
    }
    await load();
    onChange();
  };

  const renderCurrent = (sub) => {
    if (sub.status === "none" || !LIVE.has(sub.status)) {
      current.replaceChildren(h("h2", {}, "Current plan"),
        h("p", { "data-testid": "current-tier" }, `${sub.tier} — no paid subscription`));
      return;
    }
    current.replaceChildren(...[
      h("h2", {}, "Current plan"),
      h("p", { "data-testid": "current-tier" }, `${sub.tier}`),
      h("p", { class: "muted small", "data-testid": "subscription-status" },
        `${sub.status} · ${money(sub.priceCents)} a month · period ends ${formatTime(sub.currentPeriodEnd)}`),
      sub.nextPlan ? h("p", { class: "muted small" }, `Moves to ${sub.nextPlan} when the period ends.`) : null,
      sub.graceUntil ? h("p", { class: "error small" },
        `The last payment failed: the plan stays until ${formatTime(sub.graceUntil)}.`) : null,
      sub.cancelAtPeriodEnd
        ? [h("p", { class: "muted small", "data-testid": "cancelled" }, "Cancelled: ends with the period."),
          h("button", { class: "primary small", onclick: () => act(() => api.call("POST", "/billing/subscription/resume")) },
            "Resume")]
        : h("button", { class: "danger small", onclick: () => {
          if (confirm("Cancel at the end of the paid period?")) act(() => api.call("DELETE", "/billing/subscription"));
        } }, "Cancel subscription")].flat().filter(Boolean));
  };

  const renderPlans = (list, sub) => {
    const live = LIVE.has(sub.status);
    plans.replaceChildren(...list.map((plan) => h("li", { class: "card plan", "data-plan": plan.tier },
      h("h3", {}, plan.tier),
      h("p", { class: "price" }, plan.priceCents ? `${money(plan.priceCents, plan.currency)} / month` : "Free"),
      h("p", { class: "muted small" }, `${plan.monthlyCredits} credits a month · ${plan.maxConcurrentJobs} jobs at once`
        + ` · videos up to ${plan.maxVideoSeconds} s`),
      !plan.priceCents || (live && plan.tier === (sub.nextPlan || sub.plan)) ? null
        : h("button", { class: "primary small", onclick: () => (live
          ? act(() => api.call("PATCH", "/billing/subscription", { plan: plan.tier }))
          : openCheckout(plan)) }, live ? "Switch" : "Choose"))));
  };

  const openCheckout = async (plan) => {
    error.show("");
    const submit = h("button", { type: "submit", class: "primary", "data-testid": "pay" },
      `Subscribe for ${money(plan.priceCents, plan.currency)} / month`);
    const cardBox = h("div", { class: "card-element", "data-testid": "card-element" });
    checkout.hidden = false;
    checkout.replaceChildren(h("h2", {}, `Checkout: ${plan.tier}`), h("form", { onsubmit: async (event) => {
      event.preventDefault();
      submit.disabled = true;
      await act(async () => {
        const made = await state.checkout.stripe.createPaymentMethod({ type: "card", card: state.checkout.card });
        if (made.error) throw new Error(made.error.message || "the card was refused");
        await api.call("POST", "/billing/subscription", { plan: plan.tier, paymentMethod: made.paymentMethod.id });
        checkout.hidden = true;
      });
      submit.disabled = false;
    } }, h("label", {}, "Card", cardBox), submit));
    try {
      const stripe = await loadStripe();
      if (state.checkout) state.checkout.card.destroy();
      const card = stripe.elements().create("card");
      card.mount(cardBox);
      state.checkout = { stripe, card };
    } catch (err) {
      error.show(err.message);
    }
  };

  const load = async () => {
    try {
      const [planList, sub, invoiceList, credits] = await Promise.all([
        api.call("GET", "/billing/plans"), api.call("GET", "/billing/subscription"),
        api.call("GET", "/billing/invoices"), api.call("GET", "/users/me/credits?limit=20")]);
      renderCurrent(sub);
      renderPlans(planList.plans, sub);
      invoices.replaceChildren(...invoiceList.invoices.map((invoice) => h("tr", { "data-status": invoice.status },
        h("td", {}, formatTime(invoice.createdAt)), h("td", {}, invoice.tier || ""),
        h("td", {}, money(invoice.amountDueCents, invoice.currency || "usd")), h("td", {}, invoice.status))));
      ledger.replaceChildren(...credits.entries.map((entry) => h("tr", {},
        h("td", {}, formatTime(entry.createdAt)), h("td", {}, entry.type),
        h("td", { class: "number" }, `${entry.amount > 0 ? "+" : ""}${entry.amount}`), h("td", {}, entry.reason || ""))));
    } catch (err) {
      error.show(err.message);
    }
  };

  const poll = async () => {
    await load();
    onChange();
    if (!state.stopped) state.timer = setTimeout(poll, 3000); // webhooks land within seconds
  };

  root.append(h("h1", {}, "Plans & billing"), error, current, plans, checkout,
    h("section", { class: "card" }, h("h2", {}, "Invoices"), h("table", { "data-testid": "invoices" },
      h("thead", {}, h("tr", {}, h("th", {}, "Date"), h("th", {}, "Plan"), h("th", {}, "Amount"), h("th", {}, "Status"))),
      invoices)),
    h("section", { class: "card" }, h("h2", {}, "Credits"), h("table", { "data-testid": "ledger" },
      h("thead", {}, h("tr", {}, h("th", {}, "When"), h("th", {}, "Type"), h("th", {}, "Amount"), h("th", {}, "Reason"))),
      ledger)));
  poll();
  return () => { state.stopped = true; clearTimeout(state.timer); };
}
