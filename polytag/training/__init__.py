"""Training: one loop, the tasks that feed it, data, vocabularies, export."""
