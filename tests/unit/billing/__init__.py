"""Unit tests of chalicelib/billing/."""
