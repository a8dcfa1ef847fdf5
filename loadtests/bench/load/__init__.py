"""The load stage: Locust and wrk as subprocesses, scenarios, their output, sampling, CPU pinning."""
