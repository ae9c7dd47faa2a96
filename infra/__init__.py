"""Everything that runs or deploys the stack; no product logic lives here."""
