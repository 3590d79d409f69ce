"""DOFS's CrossGuard policy pack: the stack's own guarantees, checked on every preview and up."""
