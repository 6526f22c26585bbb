"""Evaluation: datasets, metrics, the runner that scores the same chain the app uses, the multi-domain suite and reports."""
