"""The local HTTP API (FastAPI on uvicorn): the API process owns the database."""
