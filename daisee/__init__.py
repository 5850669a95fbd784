"""Shared chain access and configuration for the DAISEE services (oracle, relay, viewer)."""
