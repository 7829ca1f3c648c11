"""One error type for every bad input, so callers can catch it and users read what went wrong."""


class QDError(ValueError):
    """Bad input: the message names the file (and line), and what is wrong with it."""


class QDDataWarning(UserWarning):
    """Data was skipped or is short of what was asked for; the message says how much."""
