"""The one-time account setup for DOFS's CI: GitHub's OIDC provider and the roles it may assume."""
