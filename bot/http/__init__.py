"""The read-only HTTP API (changefeed, ticket state, health), served beside the bot."""
