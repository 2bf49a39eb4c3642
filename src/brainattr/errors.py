"""The errors that explain themselves: bad input or unreachable data, each message naming the
file or config key and the fix. A job logs them without a traceback
(:func:`brainattr.workflow.setup_script`). Defined here, with no dependencies, so that the error
handler of every job, in every conda env, can recognise them without importing the modules
(and their third-party packages) that raise them.
"""

from __future__ import annotations


class ConfigError(ValueError):
    """A configuration key or value is invalid; the message says which and what to do."""


class DatasetError(ValueError):
    """A dataset folder is missing a file or holds inconsistent values."""


class DownloadError(RuntimeError):
    """A file could not be downloaded or verified; the message says what to do."""


class ModelSpecError(ValueError):
    """A model specification in the config cannot be resolved."""


EXPLAINED = (ConfigError, DatasetError, DownloadError, ModelSpecError)
