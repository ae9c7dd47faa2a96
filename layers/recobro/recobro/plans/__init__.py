"""Installment plans: the debtor's choice on the page, its saved card, and the scheduled charges."""
