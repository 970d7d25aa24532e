"""The data core, free of GraphQL and HTTP: what the gateway knows and the use cases over it.

``runtime`` holds the process-long state (one adapter per source, the store, decisions, cursors);
``store`` is the cross-request cache with ``single_flight``; ``loaders`` de-duplicate per request;
``merge`` is the feed's k-way merge; ``cursors`` sign connection positions; ``ids`` are the global
ids; ``decisions`` approves and rejects exactly once; ``errors`` gives every failure its stable code;
``caller`` is who is asking.
"""
