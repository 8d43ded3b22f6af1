"""The namespace world: a router, its ISPs and a server with a real BIND, in throwaway network
namespaces, with the WAN clients routers run and the stand-ins for what this kernel cannot run.

The demo (tools/demo.py), the bench (tools/bench) and the integration tests (tests/netns)
all build on it; it imports neither the tests nor the bench.
"""
