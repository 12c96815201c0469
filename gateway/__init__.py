"""The gRPC front door (dialer.v1) and its command-line client."""
