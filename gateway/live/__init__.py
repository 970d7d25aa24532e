"""Live updates: signed upstream webhooks in, GraphQL subscriptions out (docs/live.md).

A layer between the schema/http layers and core: it imports core, ops, config and adapters;
core never imports it.
"""
