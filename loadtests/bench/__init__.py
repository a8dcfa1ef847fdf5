"""The benchmark harness: database, services, verification, load, results."""
