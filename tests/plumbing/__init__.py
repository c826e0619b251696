"""Tests of plumbing/."""
