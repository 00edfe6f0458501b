"""Exports of the store for engines outside it (a Parquet lake for Apache Spark)."""
