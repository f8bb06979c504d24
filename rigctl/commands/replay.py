"""``rigctl replay``: placeholder until the replay module lands."""
