"""Reports, the read side: selectors over the rollups and raw points, their windows, API and URLs."""
