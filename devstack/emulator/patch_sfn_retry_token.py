"""Patch of the emulator: a retried `.waitForTaskToken` task gets a new task token, as on AWS.

The moto gap it fills: moto mints the token once per state and reuses it on every Retry attempt, and the
failure that triggered the retry stays recorded on that token, so each retry fails at once without waiting
for a worker; a task with `MaxAttempts: 2` fails for good within milliseconds and the job is refunded
although its worker would have succeeded. On AWS each attempt has its own token and waits for its answer.

Checked against moto 5.2.5 (the gap is there). The canary test
tests/unit/devstack/test_emulator_canaries.py::test_moto_still_reuses_the_task_token_on_retry
runs unpatched moto and fails once moto closes the gap: then drop this module.
"""

from __future__ import annotations


def fresh_token_per_retry() -> None:
    """Patch moto's callback task states so each retry attempt mints and registers its own token (idempotent)."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import ResourceCondition
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (
        StateTaskServiceCallback,
    )

    original = StateTaskServiceCallback._eval_execution
    if getattr(original, "_fresh_token", False):
        return

    def _eval_execution(self, env) -> None:
        retrying = env.states.context_object.context_object_data.get("State", {}).get("RetryCount", 0)
        if retrying and self.resource.condition == ResourceCondition.WaitForTaskToken:
            env.callback_pool_manager.add(env.states.context_object.update_task_token())
        original(self, env)

    _eval_execution._fresh_token = True  # type: ignore[attr-defined]
    _eval_execution.__wrapped__ = original  # type: ignore[attr-defined]
    StateTaskServiceCallback._eval_execution = _eval_execution  # type: ignore[method-assign]
