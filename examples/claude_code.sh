#!/usr/bin/env bash
# Register benchdock with Claude Code (user scope), pointing at a local llama-server.
claude mcp add benchdock --scope user \
  --env BENCHDOCK_ENDPOINTS=http://127.0.0.1:8080/v1 \
  -- benchdock serve
