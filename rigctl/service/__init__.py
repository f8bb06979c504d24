"""Running under systemd: sd_notify readiness and the loop-health watchdog."""
