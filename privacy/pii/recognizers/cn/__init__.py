"""Recognizers for identifiers used in mainland China, one class per module."""
