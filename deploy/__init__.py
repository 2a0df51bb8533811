"""How the production processes start (``deploy/run``) and the check that runs them together."""
