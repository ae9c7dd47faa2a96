"""Optimisation: which variant a reminder uses (Thompson sampling with a holdout), engagement tracking,
rewards, and the hour a debtor is most likely to respond (docs/adr/0014-variant-optimisation.md)."""
