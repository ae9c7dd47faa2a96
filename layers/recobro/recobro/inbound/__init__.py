"""Two-way messaging: what debtors write back by SMS or WhatsApp, and the answers they get."""
