"""Media tests that need sound devices use the session's ``pulse`` fixture (tests/conftest.py): what
a test plays into sink ``micfeed`` is what the default input hears, and what the default output plays
can be recorded from ``speaker.monitor``."""
