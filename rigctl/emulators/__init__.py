"""Protocol-level emulators of the rig's chips, for tests, benches and ``--emulate``.

They behave like the parts on the wire (GPIO levels and timing, I2C registers,
sysfs files), so the real drivers run against them unchanged: a driver bug
shows up on a developer's machine, not on a therapist. They ship in the package
(as gpiozero ships its MockFactory) so ``rigctl bench-hx711`` and
``rigctl diagnose --emulate`` work on any installed copy.
"""
