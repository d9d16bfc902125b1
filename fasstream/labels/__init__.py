"""Face supervision labels: landmarks, the maps built from them, and the per-video label cache."""
