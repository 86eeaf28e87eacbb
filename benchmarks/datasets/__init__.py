"""Builders of evaluation/training dataset folders (see common.py for the layout).

Each module is a script: ``python benchmarks/datasets/<name>.py OUT_DIR [options]``.
"""
