"""Recognizers for identifiers used everywhere (Presidio's, tightened for mixed-script text)."""
