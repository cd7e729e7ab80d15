"""Cost watch: daily spend per service against a robust baseline, new services, budgets."""
