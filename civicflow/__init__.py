"""CivicFlow's command line: the composition root that wires settings, services and flows."""
