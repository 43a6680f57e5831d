"""After the stack starts again on its state dir: the emulator kept the data but no Step Functions execution
(devstack/emulator/persistence.py), so the jobs that were running when it stopped are resumed from the stage they
were at, and those that completed without their report being handled are settled. The supervisor runs this after
the deploy, before any other process starts; on AWS executions outlive everything and nothing like it is needed."""

from __future__ import annotations


def main() -> None:
    """Recover, and say what was done."""
    from chalicelib import jobs

    done = jobs.recover_lost_executions()
    if any(done.values()):
        print(
            f"resumed {done['resumed']} job(s) that were running when the stack stopped; "
            f"settled {done['settled']} that had completed",
            flush=True,
        )


if __name__ == "__main__":
    main()
