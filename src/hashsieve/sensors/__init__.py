"""Sensors: the console's sensor API and alerts, the endpoint agent, and the ICAP service.

- :mod:`hashsieve.sensors.console`: tokens, alerts and the versioned keyed hash list (library).
- :mod:`hashsieve.sensors.api`: the console's routes (bearer tokens; alerts page + JSON twin).
- :mod:`hashsieve.sensors.outputs`: webhook and CEF syslog forwarding.
- :mod:`hashsieve.sensors.listcopy`: a sensor's local copy of the list and its matcher.
- :mod:`hashsieve.sensors.client`: talking to the console, with an on-disk queue of alerts.
- :mod:`hashsieve.sensors.icap`: the ICAP (RFC 3507) RESPMOD service.
- :mod:`hashsieve.sensors.agent`: the endpoint agent (watchdog + periodic rescan).
"""
