"""Alarms on the gateway: the integration of `alerts` (pure rules, escalation, channels).

`engine.AlarmService` runs rules and escalation on committed readings, persists every step
(`store`), delivers the outbox (`dispatcher`), sends the daily digest (`digest`), and
`routes.add_alarm_routes` exposes alarms, acknowledgements, closes and silences over HTTP.
"""
