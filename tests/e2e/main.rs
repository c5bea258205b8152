//! End-to-end tests: each one runs the real `strata` binary and talks HTTP to it.

// Writes reach Parquet intact: every type, both measurements, tags, timestamps, flush triggers.
mod write_path;
// Malformed requests get a clear 4xx and never a panic.
mod bad_input;
// kill -9 during concurrent writes loses no acknowledged point and duplicates none.
mod crash;
// A WAL write failure poisons the server; nothing acknowledged is lost.
mod poison;
// Names of any valid length flush under bounded directories; a failing table is held alone.
mod long_names;
// Tokens, DBRP rules, DDL and the admin API through the real binary.
mod auth;
// The HTTP compatibility matrix of the spec, including the seed's curl commands.
mod compat;
// The real client libraries (node-influx, influxdb-python) against the real binary.
mod clients;
// A faithful Telegraf outputs.influxdb driver: nothing lost, retries only on 5xx.
mod telegraf;
// Random requests never get a 5xx and never change earlier data.
mod http_fuzz;
// SQL reads on /api/v3/query_sql and `strata query`: buffers, files, merges, errors.
mod sql;
// The same SQL on Strata and on DuckDB over Strata's Parquet files gives the same rows.
mod sql_differential;
// InfluxQL on /query: SHOW from metadata, SELECT over files and buffers, formats, errors.
mod influxql;
// The same InfluxQL on Strata and on the real InfluxDB 1.x gives the same answers.
mod influxql_differential;
// Grafana's InfluxQL data source, replayed: health check, metadata queries, panels.
mod grafana;
