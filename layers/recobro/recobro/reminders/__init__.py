"""Reminders: when a claim's next reminder falls due, planning it, and sending it."""
