"""The web channel and the dashboard: a small ASGI app (Starlette), pages rendered on the server
with Jinja2 (README: The web)."""
