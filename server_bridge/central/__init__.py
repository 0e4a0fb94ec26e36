"""The central ops service: ingest API, projections, alerts, KPIs and the ops dashboard (see docs/central.md)."""
