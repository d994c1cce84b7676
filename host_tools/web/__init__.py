"""The station as a web app and HTTP API (`prepay serve`). It calls host_tools.vending only.

app       the Starlette application: routes, templates, static files, error pages
auth      sessions, CSRF, login/logout, role checks (`@page`, `@action`)
pages     cashier and supervisor pages (find, meter, sell, receipt, reprint, reverse, day)
api       the JSON API for payment channels (/api/v1, API keys) and its OpenAPI document
server    runs the app under uvicorn
"""
