"""Talon.One gateway: the code of the Lambda layer shared by every function."""
