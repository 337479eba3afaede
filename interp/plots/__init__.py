"""Figure functions: saved artefacts in, plotly figures out. They never train anything."""
