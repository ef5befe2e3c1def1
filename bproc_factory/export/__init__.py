"""Exports of a dataset to other training formats."""
