"""Stripe reconciliation: verified webhooks in, each payment, refund and dispute applied exactly once."""
