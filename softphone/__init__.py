"""softphone: a desktop SIP softphone."""

__version__ = "0.1.0"
