"""Policy decisions in Rego: bundle loading, engines, the test runner, OPA-server mode, hot reload.

Nothing here imports the gateway core; ``gateway.chain.plugins.policy`` wires it into the chain.
"""
