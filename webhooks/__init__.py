"""Durable, signed, ordered webhook delivery from the registry's event log.

Layering: this package never imports `registry`. It owns the shared database proxy
(`webhooks.db.database`), which registry binds at start-up, so an outbox row written by
`webhooks.outbox.enqueue` joins the registry mutation's transaction.
"""
