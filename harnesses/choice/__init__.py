"""Choosing a model on evidence: the ten-dimension comparison, recommendations, evaluation
plans and the time estimates they rest on. Reads the store; never imports MCP."""
