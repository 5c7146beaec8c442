"""Brain FLOP/s: priors -> model -> cost -> draws."""
