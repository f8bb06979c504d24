"""Warning outputs: LEDs, buzzer and haptics, driven every tick from pure commands."""
