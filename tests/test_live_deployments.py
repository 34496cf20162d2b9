"""Use cases come from the live LiteLLM router's deployments: one added at runtime (what the admin UI
and POST /model/new do, through Router.add_deployment) is routable at once."""

from __future__ import annotations

from litellm import Router
from litellm.types.router import Deployment, LiteLLM_Params, ModelInfo

from router_plugins.core.catalog import UseCaseCatalog

USE_CASES = ["agent", "avatar", "stt", "tts", "multimodal", "video"]


def test_a_deployment_added_at_runtime_is_routable() -> None:
    router = Router(
        model_list=[
            {
                "model_name": "text-model",
                "litellm_params": {"model": "hosted_vllm/text-model", "api_base": "http://127.0.0.1:1/v1"},
                "model_info": {"use_cases": ["agent"]},
            }
        ]
    )
    assert UseCaseCatalog.from_deployments(router.registry().all(), USE_CASES).route_for("tts") is None
    router.add_deployment(
        Deployment(
            model_name="speech-model",
            litellm_params=LiteLLM_Params(model="hosted_vllm/speech-model", api_base="http://127.0.0.1:2/v1"),
            model_info=ModelInfo(use_cases=["tts", "stt"]),
        )
    )
    catalog = UseCaseCatalog.from_deployments(router.registry().all(), USE_CASES)
    assert catalog.route_for("tts").model == "speech-model"
    assert catalog.route_for("stt").endpoint == "http://127.0.0.1:2/v1"
    assert catalog.route_for("agent").model == "text-model"
