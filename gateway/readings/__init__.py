"""The readings flow: the drivers' common face and the scan store (`sources`), the recorder
that batches their readings into the readings store (`recorder`), the wall clock's trust and
the correction of what was stamped while it was not synchronised (`clock_sync`,
`time_correction`), and what is known of each probe and compartment now (`probe_state`).
Alarms and forwarders read the committed readings from here."""
