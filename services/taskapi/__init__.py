"""The tasks API: one FastAPI app shared by every Python service."""
