"""sopbot: SOP-as-code ticketing bot for Telegram."""

__version__ = "0.1.0"
