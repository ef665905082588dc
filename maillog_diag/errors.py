"""The errors the core raises; the CLI maps each to one line on stderr and an exit status."""

from __future__ import annotations


class MaillogError(Exception):
    """Base of every error maillog-diag reports to a user."""


class GrammarLoadError(MaillogError):
    """A grammar file is missing from the installation or does not compile."""


class InputError(MaillogError):
    """An input cannot be opened or read (missing, unreadable, broken compression)."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason

    def __reduce__(self) -> tuple[type[InputError], tuple[str, str]]:
        return (InputError, (self.source, self.reason))


class UnparsableLine(MaillogError):
    """A line no grammar could read; carries where it was and what the parser expected."""

    def __init__(self, source: str, lineno: int, text: str, context: str) -> None:
        super().__init__(f"{source}:{lineno}: {context}")
        self.source = source
        self.lineno = lineno
        self.text = text
        self.context = context

    def __reduce__(self) -> tuple[type[UnparsableLine], tuple[str, int, str, str]]:
        return (UnparsableLine, (self.source, self.lineno, self.text, self.context))
