"""kb-gaps: an agent on the bus that reports where the knowledge base falls short."""
