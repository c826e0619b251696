"""The collector's numbered migrations: the raw tables (NNNN_name.sql, applied in order)."""
