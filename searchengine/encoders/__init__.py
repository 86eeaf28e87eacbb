"""Encoders: one interface, chosen by name through a registry."""
