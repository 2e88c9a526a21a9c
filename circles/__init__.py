"""Core members, circles, meetings, check-ins, concerns and escalations."""
