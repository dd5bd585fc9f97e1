"""The job runtime: queue, outbox relay, event handlers, worker, per-job tenant transactions."""
