"""Any LiteRT model folder LungLens ships, verified against its card and run by signature."""
