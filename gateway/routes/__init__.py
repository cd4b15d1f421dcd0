"""One module per resource; ``gateway.app.ROUTERS`` lists the routers the app includes."""
