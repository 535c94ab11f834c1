"""The monthly report jobs that need the gateway's parts: the clinic report read from the
gateway's own stores, its monthly schedule, and `coldchain report monthly`. The metrics, the
InfluxQL client and the rendering stay in `analysis`, which knows nothing of the gateway."""
