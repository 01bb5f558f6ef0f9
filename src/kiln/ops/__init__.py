"""Operations: request context and logs, health checks, metrics, rate limits."""
