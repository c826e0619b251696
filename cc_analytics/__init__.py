"""The composition root: the cc-analytics command, its configuration, and serve, which wires collector,
aggregator and exporters together. The three packages never import from here."""
