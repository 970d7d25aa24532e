"""Operations: what an operator watches. Request records (``observe``), structured ``logs``,
Prometheus ``metrics``, OpenTelemetry ``tracing``, per-source ``stats`` and the ``heap`` settings.

Nothing here imports the layers above it; they hand it what it reads.
"""
