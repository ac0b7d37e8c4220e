"""GEdit-Bench-style editing suite: data, VIEScore judges, automatic metrics, aggregation."""
