"""The `searchengine` command line (installed as the package searchengine.cli)."""
