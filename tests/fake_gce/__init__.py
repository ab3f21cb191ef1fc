"""A fake of the Compute Engine v1 endpoints that google.cloud's inventory plugin and modules call.

``api`` holds the in-memory model (projects, networks, subnetworks, firewalls, addresses,
instances and their operations) and records every write; ``server`` serves it over HTTPS;
``tls`` makes the throwaway CA; ``sandbox`` runs a command with www.googleapis.com and
compute.googleapis.com resolved to the fake, for that command's process tree only.
"""
