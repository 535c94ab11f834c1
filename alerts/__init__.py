"""Alarms on the gateway: excursion rules, the escalation state machine, and channels.

`rules` turns readings into condition changes, `escalation` turns condition changes, operator
events and the passing of time into notifications and audit records, `outbox` decides when a
failed notification is tried again, and `channels` deliver. All but `channels` are pure.
"""
