"""Store-and-forward to the county: InfluxDB (influx.py) and MQTT (mqtt.py).

Nothing heavy is imported here: the runtime imports `gateway.forward.influx` or
`gateway.forward.mqtt` only when `[influx]` or `[mqtt]` is configured (aiomqtt costs
~14 MB of memory; the InfluxDB sinks are plain aiohttp). The shared engine is pump.py (two
lanes, retries, set-aside); cursor.py holds the persisted acknowledgements; line_protocol.py
and tags.py are pure; metrics.py renders health and Prometheus text.
"""
