"""The local Stripe emulator: localstripe (a GPL dev tool, run as its own process, never shipped) plus patches."""
