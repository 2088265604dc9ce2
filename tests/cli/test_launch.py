"""`pyllm launch`'s client configuration, computed from a server's facts (the clients
themselves run in tests/clients)."""
import json

from pyllm.cli import parse_args
from pyllm.launch import ServerInfo, claude_env, client_command, codex_args, opencode_config

SERVER = ServerInfo("http://127.0.0.1:8080", "gemma", "/m.gguf", 40192, False, "pyllm")


def test_claude_gets_the_endpoint_the_model_for_every_role_and_the_real_window():
    env = claude_env(SERVER)
    assert env["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:8080" and env["ANTHROPIC_AUTH_TOKEN"] == "pyllm"
    assert {env[k] for k in env if k.endswith("_MODEL")} == {"gemma"}
    assert env["CLAUDE_CODE_MAX_CONTEXT_TOKENS"] == "40192"


def test_opencode_limits_leave_most_of_the_window_to_the_prompt():
    config = opencode_config(SERVER)
    model = config["provider"]["pyllm"]["models"]["gemma"]
    assert config["model"] == "pyllm/gemma"
    assert config["provider"]["pyllm"]["options"]["baseURL"] == "http://127.0.0.1:8080/v1"
    assert model["limit"]["context"] == 40192 and model["limit"]["output"] <= 40192 // 4
    _, env = client_command("opencode", SERVER, ["run", "hi"])
    assert json.loads(env["OPENCODE_CONFIG_CONTENT"]) == config


def test_codex_gets_a_responses_provider_and_its_window():
    args = codex_args(SERVER)
    overrides = dict(a.split("=", 1) for a in args[1::2])
    assert 'wire_api = "responses"' in overrides["model_providers.pyllm"]
    assert overrides["model_provider"] == "pyllm" and overrides["model"] == '"gemma"'
    assert int(overrides["model_context_window"]) == 40192
    assert int(overrides["model_auto_compact_token_limit"]) < 40192
    cmd, _ = client_command("codex", SERVER, ["exec", "hi"])
    assert cmd[0] == "codex" and cmd[-2:] == ["exec", "hi"]


def test_client_arguments_after_a_double_dash_reach_the_client_past_the_launch_flags():
    args = parse_args(["launch", "claude", "--port", "9000", "-c", "65536", "--", "-p", "Say hi", "--max-turns", "1"])
    assert (args.client, args.port, args.ctx_size) == ("claude", 9000, 65536)
    assert args.client_args == ["-p", "Say hi", "--max-turns", "1"]
    assert parse_args(["launch", "codex"]).client_args == []
