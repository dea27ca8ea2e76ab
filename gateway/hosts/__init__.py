"""Hosts: adapters that drive the chain from a gateway's native events."""
