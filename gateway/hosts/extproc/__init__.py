"""The Envoy host: the chain as an ext_proc gRPC server (``gateway extproc``)."""
