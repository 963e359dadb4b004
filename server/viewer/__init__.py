"""`benchdock view`: a local web app over the store, live while runs go on.

A server-side surface like the MCP server: it imports the core (`harnesses/`, `store/`),
never the reverse. `app.py` builds the Starlette app (routes), `guard.py` decides who may
see it, `serve.py` serves it and records where (BENCHDOCK_HOME/viewer.json, which the façade
reads to link MCP results here); one module per area of pages (`runs`, `samples`, `side`,
`dimensions`, `decisions`), templates in `templates/`, the stylesheet and the vendored htmx
in `static/`. See README.md beside this file.
"""
