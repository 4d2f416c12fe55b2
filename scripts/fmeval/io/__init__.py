"""Files in and out: sources and downloads, archives, atomic writes, tables, checkpoints."""
