"""Claims: an unpaid BNPL order with its installments, and the debtor who owes it."""
