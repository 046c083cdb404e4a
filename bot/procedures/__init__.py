"""Procedures as code: `procedures/<id>.yaml` read, validated and reported with file:line:column.

Pure of the database and of Telegram. Every load reads the file again, so a ticket always follows
the procedure as it is written now.
"""

from bot.procedures.errors import Problem, ProcedureError, ProcedureInvalid, ProcedureNotFound
from bot.procedures.load import is_procedure_id, load_file, parse_procedure, version_of
from bot.procedures.store import ProcedureStore, Summary

__all__ = [
    "Problem",
    "ProcedureError",
    "ProcedureInvalid",
    "ProcedureNotFound",
    "ProcedureStore",
    "Summary",
    "is_procedure_id",
    "load_file",
    "parse_procedure",
    "version_of",
]
