"""The integration guide's HTTP API, added to the LiteLLM proxy's FastAPI app."""
