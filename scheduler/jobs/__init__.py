"""YAML jobs: the schema and its validation, and one module per job kind (``job: matmul``,
``job: train``), each with ``validate_<kind>_job(data) -> config`` and
``run_<kind>_job(config) -> summary``."""
