"""Use-case routing plugins for the LiteLLM proxy."""

import os

# Without this every import of litellm tries to download its cost map and waits for the timeout;
# the map shipped in the wheel is what a self-hosted deployment wants anyway.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
