#!/usr/bin/env bash
# benchdock over HTTP with a bearer token, registered with Claude Code, on one machine.
# Across machines: run the `serve` line where the models are (with --host 0.0.0.0 or a LAN
# address, and TLS in front; see the README's Security section) and the `claude` line where
# Claude Code runs, with the same token in BENCHDOCK_HTTP_TOKEN there.
set -euo pipefail

TOKEN_FILE=${TOKEN_FILE:-"$HOME/.config/benchdock/http-token"}
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8765}

if [ ! -s "$TOKEN_FILE" ]; then
  mkdir -p "$(dirname "$TOKEN_FILE")"
  (umask 077 && benchdock serve --generate-token > "$TOKEN_FILE")
fi

# Single quotes: Claude Code stores ${BENCHDOCK_HTTP_TOKEN} as written and reads the variable
# when it connects, so the token never lands in ~/.claude.json. Start Claude Code with
#   BENCHDOCK_HTTP_TOKEN=$(cat "$TOKEN_FILE") claude
claude mcp add --transport http benchdock "http://$HOST:$PORT/mcp" \
  --header 'Authorization: Bearer ${BENCHDOCK_HTTP_TOKEN}'

exec benchdock serve --transport http --host "$HOST" --port "$PORT" --token-file "$TOKEN_FILE"
