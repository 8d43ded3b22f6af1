"""ddns-edge: keep DNS records on a router's WAN address, driven by kernel events."""

__version__ = "0.1.0"
