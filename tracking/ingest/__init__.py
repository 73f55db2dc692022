"""Ingest: request bodies, point decoding, the durable Redis buffer, and the ingest endpoints."""
