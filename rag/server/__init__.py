"""HTTP services next to the page: OpenAI-compatible /v1, MCP, accounts and API keys, audit log, rate limits."""
