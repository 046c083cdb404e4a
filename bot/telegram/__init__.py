"""The Telegram adapter: python-telegram-bot handlers between updates and the conversation engine.

`build_application(services)` wires everything; `run(application, config)` polls or serves the
webhook. Nothing here touches the database: the engine does, behind `services.conversation`.
"""
