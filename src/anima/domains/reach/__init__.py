"""Reaching people: opt-outs from marketing emails (and the public unsubscribe page)."""
