"""Tests of cc_analytics/."""
