"""Issue 20, item 4: failed logins slow the one who fails, never lock out the account's owner. Failures count per
email and source address with growing delays (docs/accounts.md, OWASP ASVS V2.2.1). Before the fix, five wrong
passwords from anywhere locked the email out for 15 minutes, right password included."""

from __future__ import annotations

import time

from tests.security.conftest import session_from


def test_an_attacker_is_slowed_and_the_owner_still_logs_in(stack, user):
    attacker, owner = session_from("127.0.0.2"), session_from("127.0.0.3")
    url = f"{stack.api_url}/auth/login"
    answers = []
    for _ in range(12):
        response = attacker.post(url, json={"email": user.email, "password": "wrong password 123"}, timeout=10)
        answers.append((response.status_code, int(response.headers.get("Retry-After", 0))))
    assert answers[0][0] == 401 and (429, 0) not in answers
    delays = [seconds for status, seconds in answers if status == 429]
    assert delays, f"the attacker was never slowed down: {answers}"
    while delays[-1] < 4:  # keep failing as soon as allowed, until the wait is long enough to observe
        time.sleep(delays[-1])
        assert (
            attacker.post(url, json={"email": user.email, "password": "wrong again 123"}, timeout=10).status_code == 401
        )
        response = attacker.post(url, json={"email": user.email, "password": "wrong again 123"}, timeout=10)
        assert response.status_code == 429
        delays.append(int(response.headers["Retry-After"]))
    response = owner.post(url, json={"email": user.email, "password": user.password}, timeout=10)
    assert response.status_code == 200, response.text  # the owner, from their own address, is not locked out
    response = attacker.post(url, json={"email": user.email, "password": user.password}, timeout=10)
    assert response.status_code == 429  # the attacker must still wait, even with the right password


def test_the_delay_grows_with_each_failure(stack, user):
    attacker = session_from("127.0.0.4")
    url = f"{stack.api_url}/auth/login"
    waits: list[int] = []
    for _ in range(40):
        response = attacker.post(url, json={"email": user.email, "password": "nope nope nope"}, timeout=10)
        if response.status_code == 429:
            waits.append(int(response.headers["Retry-After"]))
            if len(waits) == 4:
                break
            assert waits[-1] <= 30, f"locked out for {waits[-1]} s after {len(waits)} refusals, not slowed"
            time.sleep(waits[-1])  # wait as told: the next failure is counted, and the wait after it is longer
        else:
            assert response.status_code == 401, response.text
    assert len(waits) == 4 and waits == sorted(waits) and waits[-1] > waits[0], waits
