"""Channels that deliver a rendered message: email through SES (SMS and WhatsApp follow)."""
