"""Telemetry for the clinic's monitoring: MQTT with Home Assistant discovery."""
