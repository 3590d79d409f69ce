"""reconciler λ: drives on orders stuck in a non-terminal state (being written)."""
