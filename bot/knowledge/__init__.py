"""Knowledge capture, pure parts: slugs, article text, front matter and search terms.

Nothing here touches the database or the clock; `bot.services.knowledge` does the writing,
indexing and searching.
"""
