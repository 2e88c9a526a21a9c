"""Volunteers: recruitment, vetting, training, availability, matching and supervision."""
