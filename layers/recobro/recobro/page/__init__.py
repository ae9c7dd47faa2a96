"""The debtor's hosted page: from a link token to the HTML a person reads and the forms they send.

- response: Page, security headers (CSP with a per-response nonce), rendering in the debtor's language.
- context: one BatchGetItem turns a token and cookies into the claim, debtor, session and lock.
- identity: the one identity question, the lockout and the session (ADR 0008).
- actions: what a verified debtor can do: pay, plan, promise, move the date, ask for help, opt out.
"""
