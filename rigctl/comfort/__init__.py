"""The client's voice: comfort-button presses, their records, and the limit they suggest.

``learn`` is pure (presses in, a suggestion out); ``core_ops`` is the core
process's side (socket operations, the live ``ease`` event); the HTTP side is
``rigctl.api.routes.ease``.
"""
