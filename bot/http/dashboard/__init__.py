"""The live view: pages under /app/ and one WebSocket per page at /app/ws (docs/dashboard.md)."""
