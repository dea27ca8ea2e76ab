"""The watermark package's errors, one hierarchy.

    WatermarkError                 base; the CLI prints it as one line, exit code 2
    +-- KeyFileError               key file unreadable, malformed, tampered, or wrong passphrase
    +-- ModelDirError              not a model directory, truncated/corrupt weights, unknown layout
    +-- NotApplicableError         a test does not apply to this model (recorded, never fatal)
    +-- ReportError                a report or reveal does not check out (bad signature, other key,
                                   files changed, commitment not opened); the CLI exits 1

Every message says what went wrong and what to do next, and never contains the secret.
"""

from __future__ import annotations


class WatermarkError(Exception):
    """Base class: the command could not do its job."""


class KeyFileError(WatermarkError):
    """The key file cannot be used: malformed, tampered with, or the passphrase is wrong."""


class ModelDirError(WatermarkError):
    """The directory is not a loadable model (missing config, truncated weights...)."""


class NotApplicableError(WatermarkError):
    """A verification test does not apply to this model; verify records why and goes on."""


class ReportError(WatermarkError):
    """A signed report, public record or reveal does not check out; the message says which check failed."""
