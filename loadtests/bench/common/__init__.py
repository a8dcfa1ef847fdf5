"""Small helpers every stage uses: errors, paths, ports, durations, process lifetime."""
