"""The ICAP (RFC 3507) RESPMOD service: hash images and videos passing a proxy, alert, block."""

from hashsieve.sensors.icap.server import IcapOptions, IcapService

__all__ = ["IcapOptions", "IcapService"]
