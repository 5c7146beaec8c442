"""Runs, reports, plots and comparisons."""
