"""pydantic v2 models of the Talon.One Integration API (generated, see tools/generate_models.py)."""
