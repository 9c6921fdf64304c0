"""What the small mains (src/runs.py, src/publish.py, src/lr_grid.py) do, kept beside the report
they read records with rather than inside it: the report package stays the report alone."""
