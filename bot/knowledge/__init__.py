"""Knowledge capture, pure parts: slugs, article text, front matter, search terms and ranking.

Nothing here touches the database or the clock; `bot.services.knowledge` does the writing,
indexing and searching.
"""
