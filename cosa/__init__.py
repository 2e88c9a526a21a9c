"""The CoSA Circles application shell and what every feature shares."""
