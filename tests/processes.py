"""Child processes that a test interrupts."""

import signal


def interruptible() -> None:
    """``preexec_fn`` for a child the test sends SIGINT: Python turns SIGINT into
    KeyboardInterrupt only when it starts with the default action, and a shell starts background
    jobs (a test run started with ``&``) with SIGINT ignored, which children inherit."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
