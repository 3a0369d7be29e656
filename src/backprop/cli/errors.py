"""The error every command raises for a mistake in what the user asked for."""


class UsageError(Exception):
    """A mistake in what the user asked for: reported in one line, exit status 2."""


class Interrupted(Exception):
    """Ctrl-C or SIGTERM stopped a command; the message says what was kept (exit status 130)."""
