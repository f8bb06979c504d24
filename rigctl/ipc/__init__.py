"""Core <-> API: newline-delimited JSON over a unix socket in the state directory.

``server`` (core process, threads) answers requests from a dispatch table that
other parts register into and streams status snapshots; ``client`` (API
process, asyncio) reconnects by itself; ``service`` holds the core's operations.
"""
