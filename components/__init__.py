"""Pulumi components that build DOFS's AWS topology."""
