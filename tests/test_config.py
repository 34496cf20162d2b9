"""Startup validation of the routing section: every error names the bad key."""

from __future__ import annotations

import copy

import pytest

from router_plugins.config import ConfigError, parse_routing_config
from router_plugins.core.types import RoutingMode

from .conftest import load_repo_config


@pytest.fixture()
def document() -> dict:
    return copy.deepcopy(load_repo_config())


def test_repo_config_is_valid_and_defines_the_guides_six_use_cases(document: dict) -> None:
    config = parse_routing_config(document, environ={})
    assert set(config.use_cases) == {"agent", "avatar", "stt", "tts", "multimodal", "video"}
    assert config.mode is RoutingMode.REALTIME
    assert config.session_timeout == 1800
    for spec in config.use_cases.values():
        assert spec.description and spec.utterances and 0 < spec.performance <= 100


def test_unknown_key_is_named(document: dict) -> None:
    document["routing"]["classifier"]["kk"] = 3
    with pytest.raises(ConfigError, match=r"routing\.classifier\.kk: unknown key"):
        parse_routing_config(document, environ={})


def test_unknown_use_case_in_model_info_is_named(document: dict) -> None:
    document["model_list"][0]["model_info"]["use_cases"] = ["agent", "painting"]
    with pytest.raises(ConfigError, match=r"model_list\[0\]\.model_info\.use_cases: unknown use case 'painting'"):
        parse_routing_config(document, environ={})


def test_unknown_default_use_case_is_named(document: dict) -> None:
    document["routing"]["default_use_case"] = "chat"
    with pytest.raises(ConfigError, match=r"routing\.default_use_case: unknown use case 'chat'"):
        parse_routing_config(document, environ={})


def test_use_case_without_a_model_is_named(document: dict) -> None:
    document["model_list"] = document["model_list"][:2]  # drop the audio model: stt and tts unserved
    with pytest.raises(ConfigError, match=r"routing\.use_cases\.stt: no deployment in model_list serves it"):
        parse_routing_config(document, environ={})


def test_bad_environment_override_names_the_variable(document: dict) -> None:
    with pytest.raises(ConfigError, match=r"routing\.mode \(or the ROUTING_MODE environment variable\)"):
        parse_routing_config(document, environ={"ROUTING_MODE": "fast"})


def test_environment_overrides_the_yaml(document: dict) -> None:
    config = parse_routing_config(
        document, environ={"ROUTING_MODE": "standard", "SESSION_TIMEOUT": "60", "REDIS_URL": "redis://x:1/2"}
    )
    assert (config.mode, config.session_timeout, config.redis_url) == (RoutingMode.STANDARD, 60, "redis://x:1/2")


def test_missing_routing_section_is_named(document: dict) -> None:
    del document["routing"]
    with pytest.raises(ConfigError, match=r"^routing: missing"):
        parse_routing_config(document, environ={})


def test_use_case_id_with_a_comma_is_named(document: dict) -> None:
    document["routing"]["use_cases"]["a,b"] = document["routing"]["use_cases"]["agent"]
    with pytest.raises(ConfigError, match=r"routing\.use_cases: .*\['a,b'\] must match"):
        parse_routing_config(document, environ={})


def test_session_weights_are_validated_and_named(document: dict) -> None:
    document["routing"]["session"] = {"switch_confidence": 1.5}
    with pytest.raises(ConfigError, match=r"routing\.session\.switch_confidence"):
        parse_routing_config(document, environ={})


@pytest.mark.parametrize(
    ("general_settings", "environ", "refused"),
    [
        ({"master_key": "os.environ/LITELLM_MASTER_KEY"}, {"LITELLM_MASTER_KEY": "sk-1234"}, "LITELLM_MASTER_KEY"),
        ({"master_key": "os.environ/LITELLM_MASTER_KEY"}, {"LITELLM_MASTER_KEY": "sk-short"}, "LITELLM_MASTER_KEY"),
        ({"master_key": "sk-1234567890"}, {}, "general_settings.master_key"),
        ({"master_key": "os.environ/LITELLM_MASTER_KEY"}, {"LITELLM_MASTER_KEY": "sk-" + "9f" * 12}, None),
        ({}, {}, None),
    ],
)
def test_a_guessable_master_key_is_refused_naming_where_it_came_from(general_settings, environ, refused) -> None:
    from router_plugins.config import check_master_key

    document = {"general_settings": general_settings}
    if refused is None:
        check_master_key(document, environ)
    else:
        with pytest.raises(ConfigError, match=f"^{refused}: the master key is a well-known example"):
            check_master_key(document, environ)
