"""Patch of the Stripe emulator: keep its snapshot in the stack's state dir instead of /tmp/localstripe.pickle.

The gap it fills: localstripe 1.15.10 pickles its whole store to the fixed path /tmp/localstripe.pickle after every
write and loads it at start, so two stacks on one machine (tests start many) would share and overwrite one Stripe
account. This points both at a file the caller names. The canary test
tests/unit/devstack/test_stripe_emulator.py::test_localstripe_still_uses_a_fixed_snapshot_path fails once localstripe
takes a path of its own: then use that and drop this module.
"""

from __future__ import annotations

import pickle
from pathlib import Path

UPSTREAM_PATH = "/tmp/localstripe.pickle"  # what upstream hard-codes (the canary test checks it)


def apply(snapshot: Path) -> None:
    """Make localstripe's store load from and dump to `snapshot` (written atomically)."""
    from localstripe import resources

    def try_load_from_disk(self) -> None:
        """Load the snapshot, if any."""
        try:
            with open(snapshot, "rb") as handle:
                old = pickle.load(handle)  # our own snapshot, in a directory only its owner reads
        except FileNotFoundError:
            return
        self.clear()
        self.update(old)

    def dump_to_disk(self) -> None:
        """Write the snapshot (a partial file renamed into place)."""
        partial = snapshot.with_suffix(".partial")
        with open(partial, "wb") as handle:
            pickle.dump(self, handle, protocol=pickle.HIGHEST_PROTOCOL)
        partial.replace(snapshot)

    resources.Store.try_load_from_disk = try_load_from_disk
    resources.Store.dump_to_disk = dump_to_disk
