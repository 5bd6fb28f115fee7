"""Operations: liveness and readiness (`health`), Prometheus figures (`metrics`), the
figures and heartbeats every process records (`store`), and structured logs (`logs`)."""
