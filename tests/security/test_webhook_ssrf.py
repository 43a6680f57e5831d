"""Issue 20, item 7: webhooks cannot be pointed at the platform's own network. A webhook URL must name a public
address - no unspecified, private, shared, link-local (the metadata service), multicast or reserved address, no
decimal/octal/hex/short spellings of an IP - checked at job creation and again at delivery against the address that
is then connected to (pinned, so DNS cannot change it in between); redirects are never followed. Loopback is allowed
only locally, by a setting (WEBHOOK_ALLOW_LOOPBACK, on in `make run`). Before the fix delivery followed a redirect to
another internal address carrying the signature, and https://127.0.0.1, localhost, [::1], 0.0.0.0 and 2130706433
were accepted at job creation with the AWS settings."""

from __future__ import annotations

import time

import pytest

from tests.security.conftest import Receiver, eventually
from tests.stackutil import ApiUser, running_stack

NEVER = [
    "http://0.0.0.0:8000/hook",
    "http://2130706433/hook",
    "http://0x7f000001/hook",
    "http://0177.0.0.1/hook",
    "http://127.1/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.1/hook",
    "http://172.16.0.1/hook",
    "http://192.168.1.1/hook",
    "http://100.64.0.1/hook",
    "http://[fe80::1]/hook",
    "http://[::]/hook",
    "http://[::ffff:169.254.169.254]/hook",
    "http://224.0.0.1/hook",
    "http://[ff02::1]/hook",
    "ftp://example.com/hook",
]
LOOPBACK = ["https://127.0.0.1/hook", "http://localhost:9/hook", "http://[::1]/hook", "http://127.0.0.2/hook"]


def create(user: ApiUser, project: str, url: str):
    """Ask for a job whose webhook is `url`."""
    return user.start_job(project, "TEXT_TO_AVATAR", {"prompt": "a man"}, webhookUrl=url)


@pytest.mark.parametrize("url", NEVER)
def test_internal_addresses_are_refused_even_locally(user, url):
    response = create(user, user.project(), url)
    assert response.status_code == 400 and response.json()["error"]["code"] == "INVALID_WEBHOOK_URL", response.text


def test_a_redirect_is_never_followed(user):
    elsewhere = Receiver()
    hook = Receiver(lambda path: (307, {"Location": elsewhere.url + "/internal"}))
    try:
        assert user.call("POST", "/users/me/webhook-secret").status_code == 201
        response = create(user, user.project(), hook.url + "/hook")
        assert response.status_code == 202, response.text
        job = response.json()["id"]
        assert user.call("POST", f"/jobs/{job}/cancel").status_code == 200
        assert eventually(lambda: len(hook.received) >= 1, 60)
        time.sleep(3)
        assert elsewhere.received == [], "the delivery followed the redirect"
        assert user.call("GET", f"/jobs/{job}").json()["webhookUrl"] == hook.url + "/hook"
    finally:
        hook.close()
        elsewhere.close()


@pytest.fixture(scope="module")
def strict_stack():
    """A stack with loopback webhooks refused, as on AWS."""
    with running_stack(extra_env={"WEBHOOK_ALLOW_LOOPBACK": "0"}) as running:
        yield running


def test_loopback_is_refused_unless_the_setting_allows_it(strict_stack):
    user = ApiUser(strict_stack.api_url)
    project = user.project()
    for url in LOOPBACK:
        response = create(user, project, url)
        assert response.status_code == 400, (url, response.text)
