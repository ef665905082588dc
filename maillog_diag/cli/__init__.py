"""The command line: Typer commands over the scan engine and the renderers (thin)."""

from __future__ import annotations

from maillog_diag.cli.app import app, main

__all__ = ["app", "main"]
