"""Accounts: register, login, refresh, logout, profile, tokens and stream tickets."""
