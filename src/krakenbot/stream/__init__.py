"""Kraken WebSocket v2 for the bot: the live book per pair (checksum verified on every
message), the public market stream that keeps those books, and the private executions stream.

REST stays the fallback when a stream is down and the truth for reconciliation: a stream
only ever tells the bot something sooner, never something REST would contradict unchecked.
"""
