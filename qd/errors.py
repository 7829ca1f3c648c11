"""One error family for the whole project, so callers catch one type and users read what went wrong."""


class QDError(ValueError):
    """Bad input or a failed step: the message names the file (and line), and what is wrong with it."""


class PipelineError(QDError):
    """A notebook of the pipeline failed or was asked for with parameters it does not have."""


class QDDataWarning(UserWarning):
    """Data was skipped or is short of what was asked for; the message says how much."""
