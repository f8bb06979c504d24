"""One module per resource; each exposes ``router`` (see ``rigctl.api.app.ROUTE_MODULES``)."""
