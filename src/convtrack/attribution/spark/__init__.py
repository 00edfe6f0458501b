"""Attribution on Apache Spark over the Parquet lake ``convtrack export`` writes.

The journeys, windows and path aggregation are the same SQL builders the stores run
(``journeys_sql``, ``conversions_sql``, ``spend``), spelled by ``SparkDialect`` and run by
``SparkSource``; the model code then runs on the aggregated paths exactly as for a store.
"""
