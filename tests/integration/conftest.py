"""The fixtures for real servers (Kamailio, PulseAudio) live in tests/conftest.py, for every folder."""
