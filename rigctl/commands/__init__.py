"""Sub-commands of ``rigctl``; each module registers its own parser."""
