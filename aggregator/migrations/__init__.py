"""Numbered SQL migrations of the daily rollup tables."""
