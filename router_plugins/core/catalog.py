"""Which model group serves each use case, read from the live LiteLLM deployments."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ModelRoute:
    model: str  # the LiteLLM model group name
    endpoint: str  # the deployment's api_base, for display


class UseCaseCatalog:
    def __init__(self, routes: Mapping[str, ModelRoute]) -> None:
        self._routes = dict(routes)

    @classmethod
    def from_deployments(cls, deployments: Iterable[Mapping], known_use_cases: Iterable[str]) -> UseCaseCatalog:
        """The first deployment that names a use case in `model_info.use_cases` serves it.
        Use cases the routing config does not define are ignored (startup validation rejects
        them in the YAML; a model added at runtime cannot stop the proxy)."""
        known = set(known_use_cases)
        routes: dict[str, ModelRoute] = {}
        for deployment in deployments:
            model_info = deployment.get("model_info") or {}
            params = deployment.get("litellm_params") or {}
            for use_case in model_info.get("use_cases") or ():
                if use_case in known and use_case not in routes:
                    routes[use_case] = ModelRoute(
                        model=deployment["model_name"], endpoint=str(params.get("api_base") or "")
                    )
        return cls(routes)

    def route_for(self, use_case: str) -> ModelRoute | None:
        return self._routes.get(use_case)

    def items(self) -> Iterable[tuple[str, ModelRoute]]:
        return self._routes.items()
