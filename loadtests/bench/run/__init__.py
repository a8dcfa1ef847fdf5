"""The run pipeline's driver (run, saturate) and the result documents it writes."""
