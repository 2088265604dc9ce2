"""The HTTP layer: a Starlette app serving the OpenAI and Anthropic APIs over one engine."""
from pyllm.server.app import ServerConfig, ServerState, create_app

__all__ = ["ServerConfig", "ServerState", "create_app"]
