"""Locale data (Babel's CLDR) for what templates format: dates, numbers, units."""
