"""Renderers: the terminal and plain-text report (Rich), JSON and CSV, HTML, and the
monitoring status line. They format what the core computed; they compute nothing."""
