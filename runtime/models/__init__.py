"""Oris runtime models; every model is re-exported here."""
