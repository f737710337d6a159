"""Attacks on a listening phone: strangers who try to watch, ring, write or fake voicemail."""
