"""Attacks on a listening phone: strangers who scan, flood, forge, try to watch, ring, write or fake voicemail."""
