"""Compute growth: history -> growth models -> hindcasts -> crossover."""
