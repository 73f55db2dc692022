"""Rollups, the write side: exact pre-aggregates kept in step with the points in the drain transaction."""
