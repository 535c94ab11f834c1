"""Monthly cold-chain report for county/city CDCs and for a single clinic (issue #8).

Reads the central InfluxDB (InfluxQL over /query) or a gateway's own stores, computes the
monthly pack metrics per compartment, fridge, clinic and region, and writes one
self-contained HTML file plus CSV tables. `metrics` is pure; I/O lives in `influxql`,
`county`, `clinic`, `html` and `csv_out`.
"""
