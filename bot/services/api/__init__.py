"""The write API's use cases: what a program (an API client or an MCP agent) may do to tickets,
through the same gate as chat. The HTTP routes (`bot.http.api`) and the MCP tools (`bot.mcp`)
are thin adapters over these functions."""
