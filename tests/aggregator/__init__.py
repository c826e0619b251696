"""Tests of aggregator/."""
