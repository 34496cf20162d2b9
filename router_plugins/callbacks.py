"""Entry point named in litellm_config.yaml: `litellm_settings.callbacks: ["router_plugins.callbacks.use_case_router"]`.

LiteLLM imports this while it loads the config, in every worker. Importing it builds the router
(config validated, encoder loaded and warmed), adds the guide's routes to the proxy's app and returns
the hook that routes `model="auto"`. The proxy may load this file by path as a second module
instance, so all state lives in `router_plugins.runtime`, imported normally."""

from router_plugins.plugin import install

use_case_router = install()

# general_settings.custom_auth: 401 for a wrong key on every proxy route (LiteLLM says 400 without a database).
from router_plugins.api.auth import proxy_key_check  # noqa: E402

__all__ = ["proxy_key_check", "use_case_router"]
