"""Responsible play: a player pauses their own play (cool-off or self-exclusion)."""
