"""Packages of sessions and the credit ledger of what patients bought."""
