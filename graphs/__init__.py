"""graphs: a LangGraph-compatible state-graph engine (stdlib only)."""
