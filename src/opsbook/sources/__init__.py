"""Where metrics read data: logs, SQL, Prometheus, named checks, commands (and plugins)."""
