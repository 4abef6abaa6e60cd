"""Jinja templates (Block Kit JSON) for every message and view; see bot/rendering.py."""
