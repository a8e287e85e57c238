"""Widgets and windows: they render models and forward the user's intent."""
