"""The HTTP edge: the Starlette app and what guards it before GraphQL runs.

``app`` assembles routes, middleware and the runtime's lifespan; ``auth`` and ``rate_limit`` decide
who may ask and how often; ``guards`` bounds bodies, content types and GET; ``deadline`` gives each
request its time budget; ``probes`` answers ``/healthz`` and ``/readyz``; ``threaded_server`` runs
uvicorn on a background thread (the demo's sandbox, the metrics port).
"""
