"""The service stage: manifests, building, starting, readiness, contract verification."""
