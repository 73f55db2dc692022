"""Analytics Engine SQL over a project's datasets: ClickHouse dialect in, PostgreSQL out."""
