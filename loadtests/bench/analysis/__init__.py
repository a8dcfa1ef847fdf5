"""After the runs: comparisons, reports, the README's generated section, summaries."""
