"""Importing past tickets from a helpdesk export (`escalator import`)."""
from bot.importing.importer import ImportFileError, ImportSummary, TicketImport
from bot.importing.mapping import Mapping, MappingError, load_mapping

__all__ = ["ImportFileError", "ImportSummary", "Mapping", "MappingError", "TicketImport", "load_mapping"]
