"""The pure core: procedures, field values, the gate, ticket rules, SLA and reminders.

Nothing here imports SQLAlchemy, Telegram or reads the clock; `now` is always a parameter.
"""
