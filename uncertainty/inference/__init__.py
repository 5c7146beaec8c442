"""Inference shared by brain and growth: batched NUTS and its diagnostics."""
