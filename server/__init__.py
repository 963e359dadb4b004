"""The MCP server (`create_server`) and the `benchdock` command line."""
