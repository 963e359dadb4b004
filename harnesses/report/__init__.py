"""Reports people can look at: charts (matplotlib) and a self-contained HTML / Markdown
report of the dimension comparison and the recommendation."""
