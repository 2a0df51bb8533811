"""``python -m pipeline_client`` runs the same CLI as the ``pipeline`` console script."""

from pipeline_client.cli import main

main()
