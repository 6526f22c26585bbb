"""Adapters that let other frameworks use this assistant's index and answer chain."""
