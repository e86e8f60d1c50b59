"""Luotsi: practice management for Finnish work-supervision firms."""
