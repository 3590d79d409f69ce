"""Operator commands that work on any DOFS stack, deployed or local."""
