"""Runs: the drivers that draw, stream, keep and write a run (brain draws, the crossover pipeline that pairs
them with growth paths, comparisons), as ArviZ ``InferenceData`` or streamed statistics, and their files."""
