"""Outbound dialing cluster: campaign models, lifecycle and cluster plumbing."""
