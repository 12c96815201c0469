"""The dialer.v1 servicers: thin adapters from requests to cluster/ stores and the engine."""
