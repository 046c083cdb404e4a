"""sopbot as an MCP server (the official `mcp` SDK): the write API's use cases as tools, over
stdio (`sopbot mcp`) and streamable HTTP (`/mcp` on the HTTP server), with the same tokens."""
