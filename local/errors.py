"""Errors of the local stack: one base, each message fit for one line on a terminal."""

from __future__ import annotations


class LocalStackError(Exception):
    """The local stack cannot start or run as asked."""


class PortInUseError(LocalStackError):
    def __init__(self, port: int, option: str) -> None:
        super().__init__(f"port {port} is already in use; choose another with {option}")
        self.port = port
        self.option = option
