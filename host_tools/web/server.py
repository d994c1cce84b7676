"""Run the station's web app under uvicorn (`prepay serve`)."""

import uvicorn

from host_tools.web.app import create_app


def serve(station, host="127.0.0.1", port=8080, log_level="info"):
    """Serve until interrupted. The vending key is decrypted before the port opens, so a wrong
    passphrase fails at start, not at the first sale."""
    station.key  # noqa: B018 - decrypt now (prompt or $PREPAY_PASSPHRASE)
    app = create_app(station)
    # proxy_headers: behind a TLS proxy on this host, X-Forwarded-Proto makes cookies Secure.
    uvicorn.run(app, host=host, port=port, log_level=log_level, proxy_headers=True)
