"""Store fixtures (owned by the store work)."""
