"""Helpers the tests share: real serve processes, the store, OTLP messages, fleets, tools. conftest.py holds
only fixtures; everything a test imports comes from here."""
