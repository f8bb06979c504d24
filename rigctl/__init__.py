"""rigctl: foot-load warning controller for ashiatsu massage rigs."""

__version__ = "0.1.0"
