"""Patch of the Stripe emulator: its Stripe.js stand-in creates card PaymentMethods with the publishable key, as
Stripe.js does.

The gap it fills: localstripe 1.15.10 serves a Stripe.js stand-in (GET /js.stripe.com/v3/) whose
`createPaymentMethod` is an empty function, and its server takes only a secret key on POST /v1/payment_methods,
where Stripe takes the publishable key a browser holds. This serves the stand-in with `createPaymentMethod({type:
"card", card: element})` implemented (POST /v1/payment_methods with `key=pk_...`, answering {paymentMethod} or
{error} as Stripe.js does), and lets that one call authenticate with a publishable key. The canary test
tests/unit/devstack/test_stripe_emulator.py::test_localstripe_still_lacks_create_payment_method fails once upstream
implements it: then drop this module.
"""

from __future__ import annotations

from pathlib import Path

UPSTREAM_STUB = "createPaymentMethod: async () => {},"
CREATE_PAYMENT_METHOD = """createPaymentMethod: async (options, element) => {
      // Stripe.js: createPaymentMethod({type: 'card', card: element}) (or the older ('card', element))
      const card = (typeof options === 'string' ? element : options.card).value.card;
      const body = ['type=card', 'key=' + encodeURIComponent(apiKey)];
      Object.keys(card).forEach(field => {
        body.push('card[' + field + ']=' + encodeURIComponent(card[field]));
      });
      try {
        const response = await fetch(`${LOCALSTRIPE_BASE_API}/v1/payment_methods`, {
          method: 'POST',
          headers: {'Content-Type': 'application/x-www-form-urlencoded'},
          body: body.join('&'),
        });
        const res = await response.json().catch(() => ({}));
        return response.status !== 200 || res.error ? {error: res.error} : {paymentMethod: res};
      } catch (err) {
        return {error: {message: String(err)}};
      }
    },"""


def upstream_script() -> str:
    """localstripe's own Stripe.js stand-in."""
    import localstripe

    return (Path(localstripe.__file__).parent / "localstripe-v3.js").read_text()


def patched_script() -> str:
    """The stand-in with createPaymentMethod implemented."""
    script = upstream_script()
    if UPSTREAM_STUB not in script:
        raise RuntimeError(
            "localstripe's createPaymentMethod changed: drop devstack/stripe_emulator/patch_stripe_js.py"
        )
    return script.replace(UPSTREAM_STUB, CREATE_PAYMENT_METHOD)


def apply() -> None:
    """Serve the patched stand-in and accept a publishable key on POST /v1/payment_methods (before server start):
    both in a middleware that takes the place of localstripe's authentication one."""
    from aiohttp import web
    from localstripe import server

    script = patched_script()

    original = server.auth_middleware

    @web.middleware
    async def auth_middleware(request, handler):
        """The patched stand-in, a PaymentMethod made with a publishable key, else localstripe's own check."""
        if request.method == "GET" and request.path == "/js.stripe.com/v3/":
            return web.Response(text=script, content_type="application/javascript")
        if (
            request.method == "POST"
            and request.path == "/v1/payment_methods"
            and not request.headers.get("Authorization")
        ):
            data = await server.get_post_data(request, remove_auth=False)
            if data and str(data.get("key", "")).startswith("pk_"):
                return await handler(request)
        return await original(request, handler)

    middlewares = server.app._middlewares
    middlewares[middlewares.index(original)] = auth_middleware
