"""The chain: the plugins, their order, and the request context they share.

Hosts (gateway.hosts.*) turn their native events into the chain's hooks; nothing here knows
which host drives it.
"""
