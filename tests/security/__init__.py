"""Attacks on a listening phone: what must hold when strangers scan, flood and forge."""
