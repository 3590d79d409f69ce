"""The components package's exceptions, under one base."""


class DeploymentError(Exception):
    """Base of every error the Pulumi program raises on purpose."""
