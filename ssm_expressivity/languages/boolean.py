"""Placeholder until this module lands."""

LANGUAGES = {}
